"""Platform health, kept in the database: each platform's last successful call and last error.

Whatever talks to a platform (the source's pull, a delivery pass) records its outcome here, so
``/readyz``, ``/metrics``, the dashboard banner and the CLI tell the same story whichever
process or replica answers. A pass that made no call (nothing due) records only the attempt:
it proves nothing about the platform, so it is neither a success nor a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from connector.config.models import ScheduleSettings
from connector.storage.models import PlatformStatus

#: Cron schedules are judged by their longest gap among this many upcoming runs.
CRON_LOOKAHEAD = 16


def record(
    sessions: sessionmaker[Session],
    platform: str,
    *,
    ok: bool | None,
    error: str | None = None,
    now: datetime,
    run_id: int | None = None,
) -> None:
    """Store one outcome: ``ok`` True (a call worked), False (with ``error``), None (no call)."""
    try:
        _write(sessions, platform, ok=ok, error=error, now=now, run_id=run_id)
    except IntegrityError:  # another process created the row at the same moment
        _write(sessions, platform, ok=ok, error=error, now=now, run_id=run_id)


def _write(
    sessions: sessionmaker[Session],
    platform: str,
    *,
    ok: bool | None,
    error: str | None,
    now: datetime,
    run_id: int | None,
) -> None:
    with sessions.begin() as session:
        status = session.get(PlatformStatus, platform, with_for_update=True)
        if status is None:
            status = PlatformStatus(platform=platform)
            session.add(status)
        status.last_attempt_at = now
        if run_id is not None:
            status.last_run_id = run_id
        if ok is True:
            status.last_success_at = now
            status.last_error = None
            status.failing_since = None
        elif ok is False:
            status.last_error = error or "failed without a message"
            status.last_error_at = now
            status.failing_since = status.failing_since or now


@dataclass(frozen=True)
class PlatformHealth:
    """One platform's recorded state, as the ops surfaces show it."""

    platform: str
    last_run_id: int | None = None
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    failing_since: datetime | None = None

    @property
    def failing(self) -> bool:
        """The latest call failed (a success clears the error)."""
        return self.last_error is not None

    def as_dict(self, now: datetime) -> dict[str, Any]:
        """The JSON shape of ``/readyz``'s per-platform check."""
        return {
            "ok": not self.failing,
            "last_run_id": self.last_run_id,
            "last_success_at": _iso(self.last_success_at),
            "last_success_age_seconds": _age(now, self.last_success_at),
            "last_error": self.last_error,
            "last_error_at": _iso(self.last_error_at),
            "failing_since": _iso(self.failing_since),
        }


def read_all(session: Session) -> dict[str, PlatformHealth]:
    """Every platform with a recorded outcome, by name."""
    return {
        s.platform: PlatformHealth(
            s.platform,
            s.last_run_id,
            s.last_attempt_at,
            s.last_success_at,
            s.last_error,
            s.last_error_at,
            s.failing_since,
        )
        for s in session.scalars(select(PlatformStatus))
    }


def failing(session: Session) -> list[PlatformHealth]:
    """Platforms whose latest call failed, by name (the dashboard banner, the CLI)."""
    return sorted((h for h in read_all(session).values() if h.failing), key=lambda h: h.platform)


def schedule_period(schedule: ScheduleSettings, now: datetime) -> timedelta | None:
    """The time between scheduled syncs (a cron's longest upcoming gap); None if unscheduled."""
    if not schedule.enabled:
        return None
    if not schedule.cron:
        return timedelta(minutes=schedule.interval_minutes or 15)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(schedule.cron, timezone=schedule.timezone)
    fires: list[datetime] = []
    previous = None
    moment = now
    for _ in range(CRON_LOOKAHEAD):
        nxt = trigger.get_next_fire_time(previous, moment)
        if nxt is None:
            break
        fires.append(nxt)
        previous, moment = nxt, nxt + timedelta(microseconds=1)
    gaps = [b - a for a, b in pairwise(fires)]
    return max(gaps) if gaps else None


def stale_after(schedule: ScheduleSettings, now: datetime) -> timedelta | None:
    """How long the source may go without a successful pull before readiness fails."""
    period = schedule_period(schedule, now)
    return period * schedule.stale_after_runs if period is not None else None


def source_stale(health: PlatformHealth | None, limit: timedelta, now: datetime) -> bool:
    """True when the source has had no successful pull for longer than ``limit``.

    Measured from the last success or, for a source that never succeeded, from its first
    failure; a source never tried yet (a fresh install before its first run) is not stale.
    """
    if health is None:
        return False
    since = health.last_success_at or health.failing_since
    return since is not None and now - since > limit


def _age(now: datetime, moment: datetime | None) -> float | None:
    return (now - moment).total_seconds() if moment is not None else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
