"""``GET /metrics``: Prometheus text exposition, computed from the database at scrape time.

Nothing is counted in process memory: with several gunicorn workers (and the scheduler in its
own process) any one of them answers a scrape, so every figure comes from the shared database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from flask import Blueprint, Flask, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from connector.app.context import runtime as current_runtime
from connector.app.openapi import register
from connector.runs import FINISHED, RUNNING
from connector.runtime import Runtime
from connector.storage.models import Conversion, PlatformStatus, SyncRun, utcnow
from connector.tracking import drops

blueprint = Blueprint("metrics", __name__)

RUN_STATUSES = (RUNNING, *sorted(FINISHED))
OUTCOMES = ("accepted", "skipped", "rejected", "retrying", "dead", "waiting")


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
            due = session.execute(
                select(Conversion.destination, func.count())
                .where(Conversion.status == "pending", Conversion.next_attempt_at <= now)
                .group_by(Conversion.destination)
            ).all()
            last_run = session.scalars(
                select(SyncRun).where(SyncRun.finished_at.is_not(None)).order_by(SyncRun.id.desc())
            ).first()
            statuses = session.scalars(select(PlatformStatus)).all()
            tracking_dropped = list(drops.families(session))
        yield from tracking_dropped
        yield from _outbox(by_status, due)
        yield from _last_run(last_run)
        yield from _platforms(statuses, now)


def _outbox(by_status: list, due: list) -> Iterator[Metric]:
    conversions = GaugeMetricFamily(
        "closedloop_conversions",
        "Outbox rows by destination and status.",
        labels=["destination", "status"],
    )
    dead = GaugeMetricFamily(
        "closedloop_dead_letters", "Conversions that ran out of attempts.", labels=["destination"]
    )
    destinations = set()
    for destination, status, count in by_status:
        destinations.add(destination)
        conversions.add_metric([destination, status], count)
    dead_counts = {d: c for d, s, c in by_status if s == "dead"}
    for destination in sorted(destinations):
        dead.add_metric([destination], dead_counts.get(destination, 0))
    backlog = GaugeMetricFamily(
        "closedloop_conversions_due",
        "Pending conversions whose next attempt is due now.",
        labels=["destination"],
    )
    for destination, count in due:
        backlog.add_metric([destination], count)
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


def _platforms(statuses: list[PlatformStatus], now: datetime) -> Iterator[Metric]:
    age = GaugeMetricFamily(
        "closedloop_platform_last_success_age_seconds",
        "Seconds since delivery to the platform last succeeded.",
        labels=["platform"],
    )
    error = GaugeMetricFamily(
        "closedloop_platform_error",
        "1 while the platform's last delivery ended in an error a human must fix.",
        labels=["platform"],
    )
    for status in sorted(statuses, key=lambda s: s.platform):
        if status.last_success_at is not None:
            age.add_metric([status.platform], (now - status.last_success_at).total_seconds())
        error.add_metric([status.platform], 1 if status.last_error else 0)
    yield from (age, error)


def exposition(runtime: Runtime, now: datetime | None = None) -> bytes:
    """The Prometheus text for the current database state."""
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
