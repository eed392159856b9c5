"""Reports that run side queries on their own connections never starve each other (PostgreSQL).

A report waits for its side queries while holding a connection of the main pool. If the side
queries drew from that pool too, a few reports at once could hold every connection and wait
for ever (until the pool's timeout turned it into a 5xx). They draw from a pool of their own,
and run in the caller's session when that pool stays full.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest
from reports_conftest import nov
from sqlalchemy import text

from connector.reports import ReportRange, source_report
from connector.reports import concurrent as side_queries
from connector.reports.funnel import funnel_report
from connector.runtime import Runtime
from connector.storage.models import Lead, Person, Touchpoint, Visitor

RANGE = ReportRange(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def small_pool_runtime(make_settings):
    """A runtime whose main pool holds two connections (pool_size 1, overflow 1)."""
    runtime = Runtime.from_settings(make_settings({"database": {"pool_size": 1}}))
    if runtime.engine.dialect.name != "postgresql":
        runtime.close()
        pytest.skip("side connections are PostgreSQL only; SQLite runs them in the caller")
    yield runtime
    runtime.close()


def _seed(runtime: Runtime) -> None:
    """Two visits (one a bounce) and a lead, so every side query has rows to count."""
    with runtime.sessions.begin() as s:
        s.add_all([Visitor(id="v1"), Person(id=1, email_sha256="a" * 64)])
        s.flush()
        s.add_all(
            [
                Touchpoint(
                    visitor_id="v1", occurred_at=nov(3), url="https://x.test/", channel="Email"
                ),
                Touchpoint(
                    visitor_id="v1", occurred_at=nov(5), url="https://x.test/", channel="Direct"
                ),
                Touchpoint(
                    visitor_id="v1",
                    occurred_at=nov(5, 1),
                    url="https://x.test/",
                    channel="Direct",
                    is_new_session=False,
                ),
                Lead(person_id=1, visitor_id="v1", occurred_at=nov(6)),
            ]
        )


def _report(runtime: Runtime) -> dict:
    with runtime.sessions() as s:
        return source_report(s, RANGE, lifecycle_mapped=True)


def test_more_reports_at_once_than_main_connections_all_finish(small_pool_runtime):
    # Eight reports, each beginning four side queries, against two main connections.
    _seed(small_pool_runtime)
    expected = _report(small_pool_runtime)
    assert expected["totals"]["visits"] == 2 and expected["totals"]["bounces"] == 1
    assert expected["totals"]["leads"] == 1
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(_report, small_pool_runtime) for _ in range(8)]
        results = [f.result(timeout=60) for f in futures]
    assert results == [expected] * 8

    def funnel_totals() -> str:
        with small_pool_runtime.sessions() as s:
            return str(funnel_report(s, RANGE, lifecycle_mapped=True)["totals"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        funnels = [pool.submit(funnel_totals) for _ in range(4)]
        assert len({f.result(timeout=60) for f in funnels}) == 1


def test_a_full_side_pool_runs_the_query_in_the_callers_session(monkeypatch, make_settings):
    monkeypatch.setattr(side_queries, "SIDE_POOL", 1)
    monkeypatch.setattr(side_queries, "SIDE_WAIT_SECONDS", 0.2)
    runtime = Runtime.from_settings(make_settings())
    try:
        if runtime.engine.dialect.name != "postgresql":
            pytest.skip("side connections are PostgreSQL only")
        side = side_queries._side_engine(runtime.engine)
        # The side pool's only connection, held: the query runs in the caller's session.
        with side.connect(), runtime.sessions() as s:
            caller_pid = s.execute(text("SELECT pg_backend_pid()")).scalar()
            ran_on = side_queries.begun(
                s, lambda own: own.execute(text("SELECT pg_backend_pid()")).scalar()
            )()
        assert ran_on == caller_pid
        with runtime.sessions() as s:  # free again: a connection of its own
            caller_pid = s.execute(text("SELECT pg_backend_pid()")).scalar()
            ran_on = side_queries.begun(
                s, lambda own: own.execute(text("SELECT pg_backend_pid()")).scalar()
            )()
        assert ran_on != caller_pid
    finally:
        runtime.close()


def test_a_report_reading_on_sqlite_holds_no_write_lock(runtime):
    """While a report's transaction is open, the collector can still commit a page view."""
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single write lock; PostgreSQL readers never block writers")
    import sqlite3

    with runtime.read_sessions() as s:
        source_report(s, RANGE)  # its transaction stays open until the block ends
        writer = sqlite3.connect(runtime.engine.url.database, timeout=0.5)
        try:
            writer.execute("BEGIN IMMEDIATE")  # "database is locked" if the report held it
            writer.execute(
                "INSERT INTO visitors (id, first_seen_at, last_seen_at) VALUES "
                "('w1', '2026-11-02 00:00:00', '2026-11-02 00:00:00')"
            )
            writer.commit()
        finally:
            writer.close()
    with runtime.sessions() as s:
        assert s.get(Visitor, "w1") is not None
