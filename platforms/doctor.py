"""What a platform's ``doctor`` reports: named checks, each passed, failed or a note.

``closedloop doctor`` (``connector/doctor/``) asks the registry for each enabled platform's
``doctor`` (``platforms/<name>/doctor.py``) and calls it with that platform's settings, a
:class:`Findings` to fill and a :class:`DoctorContext`. A platform doctor only reads: it never
sends a conversion that would count (Google's ``validate_only``, GA4's validation server and
Meta's ``test_event_code`` are the platforms' own dry runs).

Every check catches its own failures (:meth:`Findings.guard`), so one unreachable API shows up
as a ✗ row with what to do instead of stopping the run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Status = Literal["ok", "fail", "note"]


@dataclass(frozen=True)
class Check:
    """One row of the doctor's table."""

    platform: str
    name: str
    status: Status
    detail: str
    #: What the admin should do; empty when nothing is to be done.
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """The row as JSON."""
        return {
            "platform": self.platform,
            "check": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix,
        }


@dataclass
class DoctorContext:
    """What a platform doctor may need beyond its own settings section."""

    #: Seconds per call.
    timeout: float = 20.0
    #: The mapping profile's contact write-back (``group_name``, ``properties``), for a CRM.
    writeback_group: str | None = None
    writeback_properties: dict[str, str] = field(default_factory=dict)


class _Failed(Exception):
    """Raised by :meth:`Findings.stop` to end a guarded block after recording a failure."""


@dataclass
class Findings:
    """The checks of one platform, and the ``Date`` headers its servers answered with."""

    platform: str
    checks: list[Check] = field(default_factory=list)
    #: ``Date`` response headers seen (RFC 9110 IMF-fixdate), for the clock-skew check.
    server_dates: list[str] = field(default_factory=list)

    def ok(self, name: str, detail: str) -> None:
        """Record a passed check."""
        self.checks.append(Check(self.platform, name, "ok", detail))

    def fail(self, name: str, detail: str, fix: str) -> None:
        """Record a failed check with what to do about it."""
        self.checks.append(Check(self.platform, name, "fail", detail, fix))

    def note(self, name: str, detail: str, fix: str = "") -> None:
        """Record something doctor cannot verify (never fails the run)."""
        self.checks.append(Check(self.platform, name, "note", detail, fix))

    def stop(self, name: str, detail: str, fix: str) -> None:
        """Record a failure and leave the enclosing :meth:`guard` block."""
        self.fail(name, detail, fix)
        raise _Failed

    def saw_date(self, value: str | None) -> None:
        """Keep a server's ``Date`` header for the clock-skew check."""
        if value:
            self.server_dates.append(value)

    def passed(self, name: str) -> bool:
        """Whether the check ``name`` was recorded as passed."""
        return any(c.name == name and c.status == "ok" for c in self.checks)

    @contextlib.contextmanager
    def guard(self, name: str, fix: str) -> Iterator[None]:
        """Run a check; an unexpected exception becomes a failed ``name`` with ``fix``."""
        try:
            yield
        except _Failed:
            pass
        except Exception as exc:  # a doctor reports, it never crashes
            self.fail(name, f"{type(exc).__name__}: {_first_line(exc)}", fix)


class PlatformDoctor(Protocol):
    """The signature of ``Platform.doctor``."""

    def __call__(self, settings: Any, findings: Findings, context: DoctorContext) -> None:
        """Run the platform's live, read-only checks into ``findings``."""


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or repr(exc)
    return text.splitlines()[0][:300]
