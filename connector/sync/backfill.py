"""Backfill: replay closed-won deals modified since a date, within what each platform accepts.

A replay is an ordinary run with ``since`` set: deals already planned plan nothing again, and
rows a platform would refuse for their age are not planned but counted with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from connector.runs import RunService
from connector.runtime import Runtime
from connector.sync.windows import explain


def since_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def plan_notes(runtime: Runtime, since: datetime, now: datetime) -> dict[str, str]:
    """Per enabled destination, what a replay from ``since`` can still deliver and why."""
    return explain(runtime.settings, since, now)


def run_backfill(
    runtime: Runtime,
    since: datetime,
    *,
    dry_run: bool = False,
    progress: Callable[[str, int, int | None], None] | None = None,
    service: RunService | None = None,
) -> tuple[int, str]:
    """Run one sync from ``since`` under the lease; (run id, status)."""
    service = service or RunService(runtime)
    options: dict[str, Any] = {"since": since, "dry_run": dry_run, "progress": progress}
    return service.run_now("backfill", **options)
