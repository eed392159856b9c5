"""Counts of values tracking dropped as malformed (a bad ``_fbc`` cookie...), per day and reason.

A malformed browser value never costs the page view it came with: the value is dropped and
the reason counted here, so a site whose integration writes broken cookies shows up in
``/metrics`` (``closedloop_tracking_dropped``) instead of silently losing matches. Counting
is best effort: it runs after the hits are written and never fails their batch (a failed
batch is retried hit by hit, and page views must not be stored twice for a counter).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from connector.storage.models import DroppedInput

log = logging.getLogger(__name__)
_table = DroppedInput.__table__


def _upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(_table)
    return statement.on_conflict_do_update(
        index_elements=["day", "reason"], set_={"count": _table.c.count + statement.excluded.count}
    )


def count(conn: Connection, reasons: Iterable[str], at: datetime) -> None:
    """Add ``reasons`` to the day's counts (errors are logged, never raised)."""
    day = at.date().isoformat()
    rows = [{"day": day, "reason": r, "count": n} for r, n in sorted(Counter(reasons).items())]
    if not rows:
        return
    statement = _upsert(conn.dialect.name)
    autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
    try:
        if conn.dialect.name == "postgresql" and not autocommit:
            with conn.begin_nested():  # a failure must not abort the hits' transaction
                conn.execute(statement, rows)
        else:
            # SQLite undoes a failed statement alone; on the hit writer's autocommit
            # PostgreSQL connection the statement is its own transaction.
            conn.execute(statement, rows)
    except Exception:
        log.warning("counting dropped tracking values failed", exc_info=True)


def totals(session: Session) -> dict[str, int]:
    """All-time count per reason."""
    query = select(DroppedInput.reason, func.sum(DroppedInput.count)).group_by(DroppedInput.reason)
    return {reason: int(total or 0) for reason, total in session.execute(query)}


def families(session: Session) -> Iterator[Metric]:
    """The ``closedloop_tracking_dropped`` metric family for ``/metrics``."""
    dropped = GaugeMetricFamily(
        "closedloop_tracking_dropped",
        "Malformed values tracking dropped (the page view was kept), by reason.",
        labels=["reason"],
    )
    for reason, total in sorted(totals(session).items()):
        dropped.add_metric([reason], total)
    yield dropped
