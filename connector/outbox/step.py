"""Entry points: ``deliver_due`` for a scheduler job, ``DeliverStep`` inside a sync run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import platforms
from connector.outbox.backoff import RetryPolicy, Uniform
from connector.outbox.deliver import DeliveryPass
from connector.outbox.status import failure_reason, succeeded, update_status
from connector.outbox.summary import LABELS, DeliverySummary, PlatformSummary
from connector.runs import LeaseLost, RunContext
from connector.runtime import Runtime
from connector.storage.models import utcnow
from platforms.base import Destination

log = logging.getLogger(__name__)


def destination_names(runtime: Runtime, only: Iterable[str] | None = None) -> list[str]:
    """Enabled platforms that receive conversions, optionally narrowed to ``only``."""
    enabled = [n for n in runtime.settings.platforms.enabled() if n in platforms.DESTINATIONS]
    if only is not None:
        wanted = set(only)
        enabled = [n for n in enabled if n in wanted]
    return enabled


def build_adapter(runtime: Runtime, name: str, *, dry_run: bool) -> Destination:
    """Construct the registered adapter for ``name`` with its settings section."""
    cls = platforms.load(platforms.DESTINATIONS[name])
    return cls(
        getattr(runtime.settings.platforms, name),
        dry_run=dry_run,
        timeout=runtime.settings.delivery.request_timeout_seconds,
    )


def deliver_due(
    runtime: Runtime,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    only: Iterable[str] | None = None,
    adapters: Mapping[str, Destination] | None = None,
    worker: str | None = None,
    run_id: int | None = None,
    heartbeat: Callable[[], None] | None = None,
    rng: Uniform | None = None,
    unsaved: Iterable[Any] = (),
    confirm_only: bool = False,
) -> DeliverySummary:
    """Deliver every due conversion of every enabled destination; one summary per platform.

    Args:
        runtime: The process's runtime (settings, sessions).
        dry_run: Use the platforms' validate-only modes and change no row.
        now: Fixed clock (tests); default the real time, read as the pass goes.
        only: Limit to these destination names.
        adapters: Ready-made adapters by destination name, instead of the registry's.
        worker: Claim owner; default this process's holder name.
        run_id: The sync run this pass belongs to, recorded on rows and platform status.
        heartbeat: Called between chunks (the sync lease renewal).
        rng: Source of backoff jitter (tests pass a seeded one).
        unsaved: Dry run: outbox rows planned in memory only, validated after the stored ones.
        confirm_only: Only ask the platforms for the verdicts due on rows handed over earlier
            (status ``confirming``); send nothing.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    settings = runtime.settings
    policy = RetryPolicy.from_settings(settings.delivery)
    names = list(adapters) if adapters is not None else destination_names(runtime)
    if only is not None:
        names = [n for n in names if n in set(only)]
    summary = DeliverySummary()
    in_memory = list(unsaved) if dry_run else []
    for name in names:
        platform_summary = summary.for_platform(name, dry_run=dry_run)
        owned = adapters is None
        try:
            adapter = (
                adapters[name]
                if adapters is not None
                else build_adapter(runtime, name, dry_run=dry_run)
            )
        except Exception as exc:  # bad credentials or config: pause this one, go on
            platform_summary.error = f"{type(exc).__name__}: {exc}"
            log.error("deliver %s: adapter could not start: %s", name, platform_summary.error)
        else:
            _deliver_one(
                runtime,
                adapter,
                name,
                platform_summary,
                owned=owned,
                dry_run=dry_run,
                unsaved=[row for row in in_memory if row.destination == name],
                worker=worker or runtime.holder,
                policy=policy,
                clock=clock,
                run_id=run_id,
                heartbeat=heartbeat,
                rng=rng,
                send=not confirm_only,
            )
        if not dry_run:
            update_status(runtime.sessions, platform_summary, now=clock(), run_id=run_id)
        log.info("%s", platform_summary.log_line())
    return summary


def _deliver_one(
    runtime: Runtime,
    adapter: Destination,
    name: str,
    summary: PlatformSummary,
    *,
    owned: bool,
    **options: Any,
) -> None:
    try:
        if owned:
            adapter.setup()
        DeliveryPass(
            sessions=runtime.sessions,
            adapter=adapter,
            destination=name,
            summary=summary,
            claim_seconds=runtime.settings.delivery.claim_seconds,
            **options,
        ).run()
    except LeaseLost:
        raise  # another process runs the sync now: stop at once, it will deliver
    except Exception as exc:  # one platform's failure must not stop the others
        if not summary.error:
            summary.error = f"{type(exc).__name__}: {exc}"
        log.exception("deliver %s stopped", name)
    finally:
        if owned:
            adapter.close()


class DeliverStep:
    """The ``deliver`` step of a sync run: send the outbox, store the summary on the run."""

    name = "deliver"

    def __init__(
        self,
        *,
        only: Iterable[str] | None = None,
        adapters: Mapping[str, Destination] | None = None,
    ) -> None:
        self.only = list(only) if only is not None else None
        self.adapters = adapters

    def __call__(self, ctx: RunContext) -> None:
        """Deliver, then put per-platform figures on the run; a paused platform is a failure."""
        summary = deliver_due(
            ctx.runtime,
            dry_run=ctx.dry_run,
            only=self.only,
            adapters=self.adapters,
            run_id=ctx.run_id,
            heartbeat=ctx.heartbeat,
            unsaved=ctx.unsaved,
        )
        for name, platform_summary in summary.platforms.items():
            existing = ctx.summary.get(name)
            figures = platform_summary.as_dict()
            if isinstance(existing, dict):
                existing.update(figures)
            else:
                ctx.summary[name] = figures
            for label in LABELS:
                if count := platform_summary.counts.get(label, 0):
                    ctx.counts[f"{name}.{label}"] = ctx.counts.get(f"{name}.{label}", 0) + count
            if succeeded(platform_summary) is False:
                # Paused, or every send failed (GA4 reports those per item): a failure
                # with its reason on the run, not only in the log.
                ctx.errors[name] = failure_reason(platform_summary) or "delivery failed"
                ctx.failures += 1


def delivery_job(runtime: Runtime) -> None:
    """Scheduler job between syncs: deliver what became due (retries, waits); never raises."""
    try:
        deliver_due(runtime)
    except Exception:  # the scheduler keeps running; the next tick tries again
        log.exception("scheduled delivery failed")
