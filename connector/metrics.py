"""``GET /metrics``: Prometheus text exposition, computed from the database at scrape time.

Nothing is answered from one process's memory: with several gunicorn workers (and the
scheduler in its own process) any one of them answers a scrape, so every figure comes from the
shared database; the growing totals are counted in memory and added there in batches
(``connector.counters``), this process's pending ones just before the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Flask, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, or_, select

import platforms
from connector import health
from connector.app.context import runtime as current_runtime
from connector.app.openapi import register
from connector.counters import TOTALS, read_totals
from connector.runs import FINISHED, RUNNING
from connector.runtime import Runtime
from connector.storage.models import Conversion, SyncRun, utcnow
from connector.tracking import drops

blueprint = Blueprint("metrics", __name__)

RUN_STATUSES = (RUNNING, *sorted(FINISHED))
OUTCOMES = ("accepted", "confirming", "skipped", "rejected", "retrying", "dead", "waiting")


class DatabaseCollector:
    """Reads the outbox, the runs and the platform status on every ``collect``."""

    def __init__(self, runtime: Runtime, now: datetime | None = None) -> None:
        self.runtime = runtime
        self.now = now

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family, from three small aggregate queries."""
        now = self.now or utcnow()
        with self.runtime.sessions() as session:
            by_status = session.execute(
                select(Conversion.destination, Conversion.status, func.count()).group_by(
                    Conversion.destination, Conversion.status
                )
            ).all()
            # Due exactly as delivery claims rows: no next attempt time yet means due now.
            due = session.execute(
                select(Conversion.destination, func.count())
                .where(
                    Conversion.status == "pending",
                    or_(Conversion.next_attempt_at.is_(None), Conversion.next_attempt_at <= now),
                )
                .group_by(Conversion.destination)
            ).all()
            last_run = session.scalars(
                select(SyncRun).where(SyncRun.finished_at.is_not(None)).order_by(SyncRun.id.desc())
            ).first()
            recorded = health.read_all(session)
            totals = read_totals(session)
            tracking_dropped = list(drops.families(session))
        enabled = self.runtime.settings.platforms.enabled()
        destinations = [n for n in enabled if n in platforms.DESTINATIONS]
        yield from tracking_dropped
        yield from _outbox(by_status, due, destinations)
        yield from _last_run(last_run)
        yield from _platforms(recorded, enabled, now)
        yield from _totals(totals)


def _outbox(by_status: list, due: list, destinations: list[str]) -> Iterator[Metric]:
    conversions = GaugeMetricFamily(
        "closedloop_conversions",
        "Outbox rows by destination and status.",
        labels=["destination", "status"],
    )
    dead = GaugeMetricFamily(
        "closedloop_dead_letters", "Conversions that ran out of attempts.", labels=["destination"]
    )
    seen = set(destinations)
    for destination, status, count in by_status:
        seen.add(destination)
        conversions.add_metric([destination, status], count)
    dead_counts = {d: c for d, s, c in by_status if s == "dead"}
    for destination in sorted(seen):
        dead.add_metric([destination], dead_counts.get(destination, 0))
    backlog = GaugeMetricFamily(
        "closedloop_conversions_due",
        "Pending conversions whose next attempt is due now.",
        labels=["destination"],
    )
    due_counts = dict(due)
    for destination in sorted(seen | set(due_counts)):  # 0 is a sample too: alerts need it
        backlog.add_metric([destination], due_counts.get(destination, 0))
    yield from (conversions, dead, backlog)


def _last_run(run: SyncRun | None) -> Iterator[Metric]:
    status = GaugeMetricFamily(
        "closedloop_last_run_status",
        "1 for the status of the last finished sync run.",
        labels=["status"],
    )
    duration = GaugeMetricFamily(
        "closedloop_last_run_duration_seconds", "How long the last finished sync run took."
    )
    finished = GaugeMetricFamily(
        "closedloop_last_run_finished_timestamp_seconds", "When the last sync run finished."
    )
    outcomes = GaugeMetricFamily(
        "closedloop_last_run_conversions",
        "Conversions per platform and outcome in the last finished sync run.",
        labels=["platform", "outcome"],
    )
    if run is not None and run.finished_at is not None:
        for name in RUN_STATUSES:
            status.add_metric([name], 1 if run.status == name else 0)
        duration.add_metric([], (run.finished_at - run.started_at).total_seconds())
        finished.add_metric([], run.finished_at.timestamp())
        for platform, figures in sorted((run.summary or {}).items()):
            if not isinstance(figures, dict):
                continue
            for outcome in OUTCOMES:
                if isinstance(figures.get(outcome), int):
                    outcomes.add_metric([platform, outcome], figures[outcome])
    yield from (status, duration, finished, outcomes)


def _platforms(
    recorded: dict[str, health.PlatformHealth], enabled: list[str], now: datetime
) -> Iterator[Metric]:
    """Per platform (the source included): last success, last error, failing or not."""
    age = GaugeMetricFamily(
        "closedloop_platform_last_success_age_seconds",
        "Seconds since a call to the platform (pull or delivery) last succeeded.",
        labels=["platform"],
    )
    success = GaugeMetricFamily(
        "closedloop_platform_last_success_timestamp_seconds",
        "When a call to the platform last succeeded.",
        labels=["platform"],
    )
    error_at = GaugeMetricFamily(
        "closedloop_platform_last_error_timestamp_seconds",
        "When a call to the platform last failed.",
        labels=["platform"],
    )
    error = GaugeMetricFamily(
        "closedloop_platform_error",
        "1 while the platform's latest call failed (see /readyz or the dashboard for why).",
        labels=["platform"],
    )
    for name in sorted(set(recorded) | set(enabled)):
        state = recorded.get(name) or health.PlatformHealth(name)
        if state.last_success_at is not None:
            age.add_metric([name], (now - state.last_success_at).total_seconds())
            success.add_metric([name], state.last_success_at.timestamp())
        if state.last_error_at is not None:
            error_at.add_metric([name], state.last_error_at.timestamp())
        error.add_metric([name], 1 if state.failing else 0)
    yield from (age, success, error_at, error)


def _totals(stored: dict[str, list[tuple[tuple[str, ...], int]]]) -> Iterator[Metric]:
    """The growing totals every process adds to (tracking outcomes, write-back failures)."""
    for total in TOTALS:
        family = CounterMetricFamily(total.name, total.help, labels=list(total.labels))
        for values, value in stored.get(total.name, []):
            if len(values) == len(total.labels):
                family.add_metric(list(values), value)
        yield family


def exposition(runtime: Runtime, now: datetime | None = None) -> bytes:
    """The Prometheus text for the current database state."""
    if "counters" in runtime.__dict__:
        runtime.counters.flush()  # this process's latest counts are part of the answer
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(runtime, now))
    return generate_latest(registry)


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus scrape endpoint."""
    return Response(exposition(current_runtime()), content_type=CONTENT_TYPE_PLAIN_0_0_4)


def init_app(app: Flask) -> None:
    """Register ``/metrics`` and describe it in the OpenAPI document."""
    app.register_blueprint(blueprint)
    register(
        {
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (outbox, runs, platforms)",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format",
                            "content": {CONTENT_TYPE_PLAIN_0_0_4.split(";")[0]: {}},
                        }
                    },
                }
            }
        }
    )
