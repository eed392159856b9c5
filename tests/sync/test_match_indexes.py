"""Every lookup a sync makes in the store is served by an index, on SQLite and PostgreSQL.

The statements are captured from a real sync through the sandbox (two runs, so that prior deals
and outbox rows are looked up too) and explained by the database itself: a full scan of one of
these tables would make each page of 200 deals cost time proportional to the whole store.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event

from connector.sync.match import _statements
from tests.sync.conftest import NOW, won_deal

#: Tables that grow with traffic or deals; ``cursors`` and ``crm_stages`` stay tiny.
LOOKED_UP = (
    "persons",
    "visitors",
    "touchpoints",
    "click_ids",
    "deals",
    "conversions",
    "attributions",
)


def capture(engine: Any) -> list[tuple[str, Any]]:
    """Record the single-row-set SELECT/DELETE statements sent through ``engine``."""
    seen: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def grab(conn, cursor, statement, parameters, context, executemany) -> None:
        head = statement.lstrip().split(None, 1)[0].upper()
        if head in ("SELECT", "DELETE") and not executemany:
            seen.append((statement, parameters))

    return seen


def full_scans(engine: Any, statements: list[tuple[str, Any]]) -> list[str]:
    """The statements whose plan reads a whole LOOKED_UP table."""
    bad: list[str] = []
    with engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            # Tiny test tables make a sequential scan the cheapest plan; forbid it so the
            # planner shows whether an index *can* serve the query.
            conn.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in {s: (s, p) for s, p in statements}.values():
            tables = [t for t in LOOKED_UP if f" {t}" in sql.split(" WHERE ")[0]]
            if not tables or "sync_runs" in sql:
                continue
            prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
            plan = [str(row[-1]) for row in conn.exec_driver_sql(prefix + sql, params)]
            bad += [f"{' '.join(sql.split())[:160]} -> {line}" for line in plan if scans(line)]
    return bad


def scans(line: str) -> bool:
    """Whether a plan line reads a whole table or index rather than probing it.

    SQLite says "SCAN <table>" for a full table or index scan, "SEARCH" for a probe; the one
    scan allowed is of ``json_each``, the page's own list of keys (``lookups.in_list``).
    """
    if "Seq Scan on " in line:
        return True
    return line.startswith("SCAN ") and not line.startswith("SCAN json_each ")


def test_every_match_and_plan_lookup_uses_an_index(hubspot, seed, sync, sync_runtime, clock):
    """Persons, visitors (ID, hubspotutk, person), touches, clicks, deals, outbox: no full scan."""
    for i in range(3):
        visitor = seed.visitor(seed.person(f"a{i}@example.com"), hubspotutk=f"utk-{i}")
        seed.touch(visitor, NOW - timedelta(days=3), click=("gclid", f"G-{i}"))
        contact = hubspot.add_contact(
            {
                "email": f"a{i}@example.com",
                "hubspotutk": f"utk-{i}",
                "closedloop_visitor_id": visitor,
                "hs_google_click_id": f"G-CRM-{i}",
            }
        )
        won_deal(hubspot, [contact])
    statements = capture(sync_runtime.engine)
    assert sync() == "succeeded"
    clock.advance(minutes=30)
    hubspot.update_deal(next(iter(hubspot.deals)), amount="2000")
    assert sync() == "succeeded"
    assert sync.last["counts"]["restatements_planned"] == 1
    looked_up = " ".join(s for s, _ in statements)
    for table in LOOKED_UP:
        assert f"FROM {table}" in looked_up, table
    postgres = sync_runtime.engine.dialect.name == "postgresql"
    ran = {s for s, _ in statements}
    for sql in _statements(postgres):  # the matcher's lookups, all of them explained below
        assert sql in ran, sql
    assert full_scans(sync_runtime.engine, statements) == []
