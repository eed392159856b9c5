"""Run one report query on a connection of its own while the caller runs the others.

A source report is several independent aggregates (page views and bounces, leads, attributed
revenue, lifetime revenue, MQLs/SQLs). On PostgreSQL each can run on its own connection, so
the database works on two at once instead of one after the other; bench/reports.py measured
the bounce window (the longest, ~1.1-1.8 s at 1M touchpoints) hidden behind the rest.
Elsewhere (SQLite, or a session bound to one connection, whose uncommitted rows another
connection would not see) the query runs in the caller's session when its result is asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

T = TypeVar("T")


def begun(session: Session, query: Callable[[Session], T]) -> Callable[[], T]:
    """``query(session)``, begun now on its own connection where that helps; call for the result.

    ``query`` must set its own planner options (``plan_for_reports``): they are per
    transaction, and on PostgreSQL it runs in a transaction of its own.
    """
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return lambda: query(session)

    def run() -> T:
        with Session(bind) as own:
            return query(own)

    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="closedloop-report")
    try:
        return worker.submit(run).result
    finally:
        worker.shutdown(wait=False)  # the thread ends with its query
