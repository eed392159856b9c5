"""Sync runs: take the lease, record the run, execute the pipeline steps, record the outcome.

Every way of starting a sync (schedule, ``POST /trigger``, webhook, ``closedloop sync --once``)
goes through :class:`RunService`, so "only one at a time" holds everywhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update

from connector.errors import LeaseHeld
from connector.runtime import Runtime
from connector.storage import lease
from connector.storage.models import SyncRun, utcnow

log = logging.getLogger(__name__)

SYNC_LEASE = "sync"
RUNNING, SUCCEEDED, FAILED, PARTIAL, ABANDONED = (
    "running",
    "succeeded",
    "failed",
    "partial",
    "abandoned",
)
FINISHED = {SUCCEEDED, FAILED, PARTIAL, ABANDONED}
#: The run summary's key for per-platform failure reasons.
ERRORS = "errors"
#: The lease is renewed once 1/RENEW_FRACTION of its time-to-live has passed.
RENEW_FRACTION = 10


class LeaseLost(RuntimeError):
    """Our lease expired and another process took it: stop before doing more work."""


@dataclass
class RunContext:
    """What a pipeline step gets: the runtime, the run's options, and a place for its figures."""

    runtime: Runtime
    run_id: int
    trigger: str
    dry_run: bool = False
    deal_ids: list[str] | None = None
    since: datetime | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    failures: int = 0
    #: Why a platform failed in this run (platform -> the message a human should act on).
    errors: dict[str, str] = field(default_factory=dict)
    progress: Callable[[str, int, int | None], None] | None = None
    clock: Callable[[], float] = time.monotonic
    renewed_at: float | None = None
    #: Dry run: the outbox rows the sync planned but rolled back, for delivery to validate.
    unsaved: list[Any] = field(default_factory=list)

    def heartbeat(self) -> None:
        """Renew the sync lease; long steps call this between batches.

        Renewed once a tenth of its lifetime has passed since the last renewal, not at every
        call: a sync calls this per page, and a write per page would be work that buys
        nothing while the lease has most of its time left.
        """
        ttl = self.runtime.settings.schedule.lease_seconds
        now = self.clock()
        if self.renewed_at is not None and now - self.renewed_at < ttl / RENEW_FRACTION:
            return
        if not lease.renew(self.runtime.engine, SYNC_LEASE, self.runtime.holder, ttl):
            raise LeaseLost("the sync lease was lost; another process took over")
        self.renewed_at = now


class Step(Protocol):
    """One stage of a run (pull+plan, deliver, spend pull...)."""

    name: str

    def __call__(self, ctx: RunContext) -> None:
        """Do the work, adding figures to ``ctx.counts``/``ctx.summary`` and ``ctx.failures``."""


class RunService:
    """Starts and executes runs under the sync lease."""

    def __init__(self, runtime: Runtime, steps: Sequence[Step] | None = None) -> None:
        self.runtime = runtime
        self._steps = steps
        self._threads: list[threading.Thread] = []

    @property
    def steps(self) -> Sequence[Step]:
        """The pipeline; resolved lazily so that importing this module stays cheap."""
        if self._steps is None:
            from connector.pipeline import default_steps

            self._steps = default_steps(self.runtime.settings)
        return self._steps

    def begin(self, trigger: str, *, dry_run: bool = False) -> int:
        """Take the lease and record a new run; raises :class:`LeaseHeld` if one is running."""
        rt = self.runtime
        if not lease.acquire(rt.engine, SYNC_LEASE, rt.holder, rt.settings.schedule.lease_seconds):
            held = lease.current(rt.engine, SYNC_LEASE)
            raise LeaseHeld(held.holder if held else None)
        try:
            with rt.sessions.begin() as session:
                # Runs left 'running' by a crashed process are closed, not left dangling.
                session.execute(
                    update(SyncRun)
                    .where(SyncRun.status == RUNNING)
                    .values(status=ABANDONED, finished_at=utcnow(), error="process stopped mid-run")
                )
                run = SyncRun(trigger=trigger, status=RUNNING, dry_run=dry_run, holder=rt.holder)
                session.add(run)
                session.flush()
                return run.id
        except BaseException:
            lease.release(rt.engine, SYNC_LEASE, rt.holder)
            raise

    def execute(self, run_id: int, trigger: str, **options: Any) -> str:
        """Run every step of a begun run, record the outcome, release the lease."""
        ctx = RunContext(runtime=self.runtime, run_id=run_id, trigger=trigger, **options)
        status, error = SUCCEEDED, None
        try:
            for step in self.steps:
                log.info("run %s: %s started", run_id, step.name)
                step(ctx)
                ctx.heartbeat()
            if ctx.failures:
                status = PARTIAL
        except Exception as exc:  # the run records any failure; the process keeps serving
            log.exception("run %s failed in its pipeline", run_id)
            status, error = FAILED, f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(run_id, status, ctx, error)
            lease.release(self.runtime.engine, SYNC_LEASE, self.runtime.holder)
        log.info("run %s %s: %s", run_id, status, ctx.counts)
        return status

    def run_now(self, trigger: str, **options: Any) -> tuple[int, str]:
        """Begin and execute in this thread (CLI, scheduler)."""
        run_id = self.begin(trigger, dry_run=options.get("dry_run", False))
        return run_id, self.execute(run_id, trigger, **options)

    def start_background(self, trigger: str, **options: Any) -> int:
        """Begin here (so conflicts surface as 409 at once) and execute on a thread."""
        run_id = self.begin(trigger, dry_run=options.get("dry_run", False))
        thread = threading.Thread(
            target=self.execute,
            args=(run_id, trigger),
            kwargs=options,
            name=f"run-{run_id}",
            daemon=True,
        )
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        return run_id

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait for background runs of this service to end (shutdown, tests)."""
        for thread in list(self._threads):
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads)

    def _finish(self, run_id: int, status: str, ctx: RunContext, error: str | None) -> None:
        """Store the outcome; a platform's failure reason goes on the run, not only the log."""
        summary = dict(ctx.summary)
        if ctx.errors:
            summary[ERRORS] = dict(ctx.errors)
            error = error or "; ".join(f"{name}: {text}" for name, text in ctx.errors.items())
        with self.runtime.sessions.begin() as session:
            session.execute(
                update(SyncRun)
                .where(SyncRun.id == run_id)
                .values(
                    status=status,
                    finished_at=utcnow(),
                    counts=ctx.counts,
                    summary=summary,
                    error=error,
                )
            )


def get_run(runtime: Runtime, run_id: int) -> SyncRun | None:
    """One run by id."""
    with runtime.sessions() as session:
        return session.get(SyncRun, run_id)


def latest_runs(runtime: Runtime, limit: int = 20) -> list[SyncRun]:
    """The newest runs first."""
    with runtime.sessions() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.id.desc()).limit(limit)))


def run_as_dict(run: SyncRun) -> dict[str, Any]:
    """The JSON shape of a run for ``GET /runs/<id>`` and the CLI."""
    return {
        "id": run.id,
        "trigger": run.trigger,
        "status": run.status,
        "dry_run": run.dry_run,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "counts": run.counts or {},
        "summary": run.summary or {},
        "error": run.error,
        "platform_errors": dict((run.summary or {}).get(ERRORS) or {}),
    }
