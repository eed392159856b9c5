"""Run one report query on a connection of its own while the caller runs the others.

A source report is several independent aggregates (page views and bounces, leads, attributed
revenue, lifetime revenue, MQLs/SQLs). On PostgreSQL each can run on its own connection, so
the database works on several at once instead of one after the other; bench/reports.py
measured the bounce window (the longest, ~1.1-1.8 s at 1M touchpoints) hidden behind the rest.
Elsewhere (SQLite, or a session bound to one connection, whose uncommitted rows another
connection would not see) the query runs in the caller's session when its result is asked for.

The side queries take their connections from a pool of their own (:data:`SIDE_POOL` per
engine, no overflow), never from the pool the callers hold theirs from: a caller waits for its
side queries while holding a connection, so if both shared one pool, a few concurrent reports
could hold every connection and wait forever for the ones their side queries need. Side
queries wait for nothing but the database, so waiting for a side connection always ends; one
that cannot get a connection within :data:`SIDE_WAIT_SECONDS` runs in the caller's session
instead, so a busy server answers later, never with an error.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from connector.storage.db import make_engine

T = TypeVar("T")

#: Connections side queries may hold at once, per engine (a report begins up to five).
SIDE_POOL = 6
#: How long a side query waits for a side connection before running in the caller's session.
SIDE_WAIT_SECONDS = 5.0

_side_engines: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def begun(session: Session, query: Callable[[Session], T]) -> Callable[[], T]:
    """``query(session)``, begun now on its own connection where that helps; call for the result.

    ``query`` must set its own planner options (``plan_for_reports``): they are per
    transaction, and on PostgreSQL it runs in a transaction of its own.
    """
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return lambda: query(session)
    side = _side_engine(bind)

    def run() -> tuple[bool, Any]:
        try:
            with Session(side) as own:
                own.connection()  # check a connection out now: a full side pool is known here
                return True, query(own)
        except PoolTimeout:
            return False, None

    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closedloop-report")
    try:
        future = worker.submit(run)
    finally:
        worker.shutdown(wait=False)  # the thread ends with its query

    def result() -> T:
        done, value = future.result()
        return value if done else query(session)

    return result


def _side_engine(bind: Engine) -> Engine:
    """The engine side queries of ``bind`` use: the same database and set-up, its own pool."""
    with _lock:
        side = _side_engines.get(bind)
        if side is None:
            side = make_engine(
                bind.url.render_as_string(hide_password=False),
                pool_size=SIDE_POOL,
                max_overflow=0,
                pool_timeout=SIDE_WAIT_SECONDS,
            )
            _side_engines[bind] = side
            event.listen(bind, "engine_disposed", lambda _engine: side.dispose())
        return side
