"""Totals that only grow (tracking hits stored, rejected, rate-limited; write-back failures).

``/metrics`` is answered by whichever worker or replica the scraper reaches, so a total kept
in one process's memory would jump between scrapes. Each process counts in memory and adds
its increments to the shared ``counters`` rows at most once per ``flush_seconds`` (one upsert
per distinct total), on scrape, and at exit: the hot path pays a dict update, not a write.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.storage.models import Counter

log = logging.getLogger(__name__)

#: Joins label values into the stored ``label`` column (values never contain it).
SEPARATOR = "|"


@dataclass(frozen=True)
class Total:
    """A counter's Prometheus name (without ``_total``), help text and label names."""

    name: str
    help: str
    labels: tuple[str, ...] = ()


TRACKING_STORED = Total(
    "closedloop_tracking_stored", "Tracking requests stored, by endpoint.", ("endpoint",)
)
TRACKING_REJECTED = Total(
    "closedloop_tracking_rejected",
    "Tracking requests refused with a 4xx, by endpoint and error code.",
    ("endpoint", "reason"),
)
TRACKING_RATE_LIMITED = Total(
    "closedloop_tracking_rate_limited",
    "Tracking requests refused with 429 by the per-address rate limit, by endpoint.",
    ("endpoint",),
)
TRACKING_FAILED = Total(
    "closedloop_tracking_failed", "Tracking requests that failed with a 5xx.", ("endpoint",)
)
WRITEBACK_FAILURES = Total(
    "closedloop_crm_writeback_failures",
    "CRM write-back attempts that failed, by what happens next (retry or failed for good).",
    ("outcome",),
)
TOTALS = (TRACKING_STORED, TRACKING_REJECTED, TRACKING_RATE_LIMITED, TRACKING_FAILED)
TOTALS += (WRITEBACK_FAILURES,)


class Counters:
    """One process's increments, flushed to the database in batches."""

    def __init__(
        self,
        engine: Engine,
        *,
        flush_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._pending: Tally[tuple[str, str]] = Tally()
        self._lock = threading.Lock()
        self._flushed_at = clock()
        _LIVE.add(self)

    def add(self, total: Total, *values: str, amount: int = 1) -> None:
        """Count ``amount`` under ``total`` with these label values; flush when it is time."""
        if len(values) != len(total.labels):
            raise ValueError(f"{total.name} takes labels {total.labels}, got {values}")
        label = SEPARATOR.join(v.replace(SEPARATOR, "_")[:40] for v in values)
        with self._lock:
            self._pending[(total.name, label)] += amount
            due = self.clock() - self._flushed_at >= self.flush_seconds
        if due:
            self.flush()

    def flush(self) -> None:
        """Add the pending increments to the database; on failure they stay pending."""
        with self._lock:
            pending, self._pending = self._pending, Tally()
            self._flushed_at = self.clock()
        if not pending:
            return
        try:
            with self.engine.begin() as conn:
                for (name, label), amount in sorted(pending.items()):
                    conn.execute(_upsert(self.engine.dialect.name, name, label, amount))
        except Exception:  # metrics must never fail a request; keep the counts for next time
            log.warning("could not store %d counter increments; will retry", len(pending))
            with self._lock:
                self._pending.update(pending)


#: Every live instance, flushed once at interpreter exit (weakly held: runtimes come and go).
_LIVE: weakref.WeakSet[Counters] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for counters in list(_LIVE):
        try:
            counters.flush()
        except Exception:  # the engine may already be gone at interpreter exit
            log.debug("counters not flushed at exit", exc_info=True)


def _upsert(dialect: str, name: str, label: str, amount: int):
    """``INSERT ... ON CONFLICT DO UPDATE value = value + amount`` for either backend."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = Counter.__table__
    stmt = insert(table).values(name=name, label=label, value=amount)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.name, table.c.label],
        set_={"value": table.c.value + stmt.excluded.value},
    )


def read_totals(session: Session) -> dict[str, list[tuple[tuple[str, ...], int]]]:
    """Every stored total: name -> [(label values, value)], for ``/metrics``."""
    out: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for name, label, value in session.execute(
        select(Counter.name, Counter.label, Counter.value).order_by(Counter.name, Counter.label)
    ):
        values = tuple(label.split(SEPARATOR)) if label else ()
        out.setdefault(name, []).append((values, int(value)))
    return out
