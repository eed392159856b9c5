"""APScheduler jobs: periodic syncs, outbox delivery and a heartbeat that /readyz reads.

Every process may run a scheduler; the sync lease in the database decides which one actually
syncs, so replicas never run two syncs at once.
"""

from __future__ import annotations

import logging
import signal
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select

from connector.errors import LeaseHeld
from connector.runs import RunService
from connector.runtime import Runtime
from connector.storage.models import Cursor, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_CURSOR = "scheduler.heartbeat"
HEARTBEAT_SECONDS = 30
#: How often outside erasures that failed (a platform down) are asked again.
ERASURE_RETRY_MINUTES = 10


def build_scheduler(runtime: Runtime, *, blocking: bool = False) -> BaseScheduler:
    """A scheduler with the sync and heartbeat jobs for these settings."""
    sched_cfg = runtime.settings.schedule
    scheduler: BaseScheduler = (BlockingScheduler if blocking else BackgroundScheduler)(
        timezone=sched_cfg.timezone, job_defaults={"coalesce": True, "max_instances": 1}
    )
    service = RunService(runtime)
    trigger: Any
    if sched_cfg.cron:
        trigger = CronTrigger.from_crontab(sched_cfg.cron, timezone=sched_cfg.timezone)
    else:
        trigger = IntervalTrigger(minutes=sched_cfg.interval_minutes or 15)
    scheduler.add_job(
        scheduled_sync,
        trigger,
        args=[service],
        id="sync",
        name="sync",
        next_run_time=datetime.now(UTC) + timedelta(seconds=5),
    )
    scheduler.add_job(
        beat,
        IntervalTrigger(seconds=HEARTBEAT_SECONDS),
        args=[runtime],
        id="heartbeat",
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        retry_erasures,
        IntervalTrigger(minutes=ERASURE_RETRY_MINUTES),
        args=[runtime],
        id="erasures",
    )
    return scheduler


def exit_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit(0)``: a blocking scheduler then stops like on Ctrl-C.

    Without it SIGTERM ends the process mid-statement, skipping the lease release and the
    connection pool's close.
    """

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def scheduled_sync(service: RunService) -> None:
    """One scheduled sync; a run already in progress elsewhere is not an error."""
    try:
        run_id, status = service.run_now("schedule")
        log.info("scheduled run %s finished: %s", run_id, status)
    except LeaseHeld as held:
        log.info("scheduled sync skipped: %s", held)


def retry_erasures(runtime: Runtime) -> None:
    """Ask the platforms again for the privacy requests' erasures that are due."""
    from connector.tracking import erasures

    try:
        erasures.work(runtime)
    except Exception:  # a job that raises is only logged by APScheduler; say what it was
        log.exception("retrying privacy erasures failed")


def beat(runtime: Runtime) -> None:
    """Record that a scheduler is alive (read by /readyz)."""
    value = f"{utcnow().isoformat()}|{runtime.holder}"
    with runtime.sessions.begin() as session:
        row = session.get(Cursor, HEARTBEAT_CURSOR)
        if row is None:
            session.add(Cursor(name=HEARTBEAT_CURSOR, value=value))
        else:
            row.value = value


def last_heartbeat(runtime: Runtime) -> datetime | None:
    """When a scheduler last beat, or None if none ever did."""
    with runtime.sessions() as session:
        value = session.scalar(select(Cursor.value).where(Cursor.name == HEARTBEAT_CURSOR))
    if not value:
        return None
    return datetime.fromisoformat(value.split("|", 1)[0])
