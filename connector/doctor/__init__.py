"""``closedloop doctor`` and ``GET /readyz?deep=1``: live, read-only checks of everything.

Each enabled platform runs the checks it declares in the registry (``Platform.doctor``); the
store's checks (migrations, lease table) and the clock-skew check are generic and live here.
``connector/`` never names a platform: it only asks the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import platforms
from connector.doctor.clock import check_clock
from connector.doctor.store import check_store
from connector.runtime import Runtime
from connector.storage.models import utcnow
from platforms.doctor import Check, DoctorContext, Findings

STORE = "store"


@dataclass(frozen=True)
class DoctorReport:
    """Every check of one run; ``ok`` when none failed (notes do not fail)."""

    checks: list[Check]

    @property
    def ok(self) -> bool:
        """No check failed."""
        return all(c.status != "fail" for c in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON."""
        return {
            "status": "ok" if self.ok else "failed",
            "checks": [c.as_dict() for c in self.checks],
        }


def run_doctor(rt: Runtime, *, timeout: float = 20.0, now: datetime | None = None) -> DoctorReport:
    """Run the store's checks, then each enabled platform's, then the clock-skew check."""
    checks: list[Check] = []
    store = Findings(STORE)
    check_store(rt.engine, store)
    checks += store.checks
    context = _context(rt, timeout)
    dates: dict[str, list[str]] = {}
    for name in rt.settings.platforms.enabled():
        findings = Findings(name)
        path = platforms.DOCTORS.get(name)
        if path is None:
            findings.note("live checks", "this platform declares no doctor checks")
        else:
            with findings.guard("live checks", f"report this: platforms.{name} doctor crashed"):
                platforms.load(path)(getattr(rt.settings.platforms, name), findings, context)
        checks += findings.checks
        dates[name] = findings.server_dates
    clock = Findings(STORE)
    check_clock(dates, clock, now or utcnow())
    checks += clock.checks
    return DoctorReport(checks)


def _context(rt: Runtime, timeout: float) -> DoctorContext:
    """The context platform doctors get; a broken mapping profile leaves write-back unset."""
    try:
        writeback = rt.profile.writeback
    except Exception:  # the config check reports a bad profile; doctor goes on
        return DoctorContext(timeout=timeout)
    return DoctorContext(
        timeout=timeout,
        writeback_group=writeback.group_name,
        writeback_properties=dict(writeback.properties),
    )
