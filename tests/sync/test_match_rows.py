"""The matcher reads raw driver rows; what it builds must be what the ORM types would give.

The matcher skips SQLAlchemy's compiler and result types (see ``lookups.in_list``), so it does
their conversions itself: aware UTC datetimes, consent flags as bool/None (SQLite stores 0/1),
click IDs decoded from JSON, and on SQLite time bounds written as the stored text. These tests
build journeys through the store on both databases and compare them with journeys written by
hand from the seeded rows.
"""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

from sqlalchemy import select

from connector.storage.models import Touchpoint
from connector.sync.lookups import index_lookups_for_reads, is_postgres
from connector.sync.match import (
    MATCHED,
    NEVER_TRACKED,
    NO_CONTACT,
    OUTSIDE_WINDOW,
    Click,
    DealToMatch,
    Journey,
    Matcher,
    Touch,
    VisitorInfo,
    _bound,
)
from platforms.crm import CrmContact
from tests.sync.conftest import NOW

LOOKBACK = 90
URL = "https://example.com/"  # what the seed's touches carry
CLOSE = NOW - timedelta(days=1)


def match(runtime: Any, *deals: DealToMatch) -> dict[str, Journey]:
    """Journeys for the deals, as the sync makes them (in a read transaction planned for it)."""
    with runtime.sessions() as session, session.begin():
        index_lookups_for_reads(session)
        return Matcher(session, LOOKBACK).match(list(deals))


def test_a_journey_from_the_store_equals_one_written_by_hand(seed, sync_runtime):
    """Types and values exactly as the ORM would give them, on SQLite and PostgreSQL."""
    person = seed.person("ann@example.com")
    flags = {"consent_ad_user_data": True, "consent_ad_personalization": False}
    visitor = seed.visitor(person, ga_client_id="1.2", user_agent="UA", hubspotutk="utk-1", **flags)
    other = seed.visitor(None, fbp="fb.1", consent_ad_user_data=None)
    first_at = CLOSE - timedelta(days=LOOKBACK)  # both window bounds are inclusive
    first = seed.touch(visitor, first_at, click=("gclid", "G-1"), **flags)
    seed.touch(visitor, first_at - timedelta(microseconds=1))  # just outside the window
    second = seed.touch(other, CLOSE, channel="Organic Search", consent_ad_user_data=False)
    contacts = (
        CrmContact(id="c1", email=" Ann@Example.com ", gclid="G-CRM"),
        CrmContact(id="c2", visitor_id=other),
    )
    journey = match(sync_runtime, DealToMatch("d1", CLOSE, contacts))["d1"]

    touch_a = Touch(first, visitor, first_at, "Paid Search", "google", {"gclid": "G-1"},
                    None, None, None, None, True, False, URL)  # fmt: skip
    touch_b = Touch(second, other, CLOSE, "Organic Search", None, {},
                    None, None, None, None, False, None, URL)  # fmt: skip
    want = Journey(
        "d1",
        MATCHED,
        contacts,
        [touch_a, touch_b],
        [Click("gclid", "G-CRM", None), Click("gclid", "G-1", first_at, first)],
        [
            VisitorInfo(visitor, "1.2", None, None, None, "UA", True, False),
            VisitorInfo(other, None, None, None, "fb.1", None, None, None),
        ],
    )
    assert journey == want
    assert [type(v) for t in journey.touches for v in t[-3:-1]] == [bool, bool, bool, type(None)]
    assert [type(v) for v in journey.visitors[0][-3:-1]] == [bool, bool]
    times = [t.time for t in journey.touches] + [c.time for c in journey.clicks if c.time]
    assert all(t.tzinfo is UTC for t in times)


def test_each_lookup_finds_visitors_on_its_own(seed, sync_runtime):
    """By visitor ID, by ``hubspotutk``, by hashed email and by stored CRM contact ID."""
    by_contact = seed.person("nobody@example.com", contact_id="c-4")
    visitors = [
        seed.visitor(None),
        seed.visitor(None, hubspotutk="utk-2"),
        seed.visitor(seed.person("cat@example.com")),
        seed.visitor(by_contact),
    ]
    for v in visitors:
        seed.touch(v, CLOSE - timedelta(days=2))
    deals = [
        DealToMatch("by-id", CLOSE, (CrmContact(id="c-1", visitor_id=visitors[0]),)),
        DealToMatch("by-utk", CLOSE, (CrmContact(id="c-2", hubspotutk="utk-2"),)),
        DealToMatch("by-email", CLOSE, (CrmContact(id="c-3", email="CAT@example.com"),)),
        DealToMatch("by-contact", CLOSE, (CrmContact(id="c-4"),)),
    ]
    journeys = match(sync_runtime, *deals)
    assert {d: [v.id for v in j.visitors] for d, j in journeys.items()} == {
        d.id: [v] for d, v in zip(deals, visitors, strict=True)
    }
    assert {j.status for j in journeys.values()} == {MATCHED}


def test_statuses_without_touches(seed, sync_runtime):
    """No contact, never tracked, and tracked only before the window."""
    old = seed.visitor(None)
    seed.touch(old, CLOSE - timedelta(days=LOOKBACK + 1))
    journeys = match(
        sync_runtime,
        DealToMatch("none", CLOSE, ()),
        DealToMatch("never", CLOSE, (CrmContact(id="x", email="new@example.com"),)),
        DealToMatch("outside", CLOSE, (CrmContact(id="y", visitor_id=old),)),
    )
    assert {d: j.status for d, j in journeys.items()} == {
        "none": NO_CONTACT,
        "never": NEVER_TRACKED,
        "outside": OUTSIDE_WINDOW,
    }


def test_sqlite_time_bounds_are_the_stored_text(seed, sync_runtime):
    """SQLite compares times as text: a bound must be written exactly as a stored time."""
    at = CLOSE.astimezone(UTC) - timedelta(days=3, microseconds=7)
    tid = seed.touch(seed.visitor(None), at)
    with sync_runtime.sessions() as session:
        postgres = is_postgres(session)
        stored = session.connection().exec_driver_sql(
            "SELECT occurred_at FROM touchpoints WHERE id = " + str(tid)
        )
        raw = stored.scalar_one()
        orm = session.execute(select(Touchpoint.occurred_at).where(Touchpoint.id == tid))
        assert orm.scalar_one() == at
    if postgres:
        assert _bound(at, True) == raw
    else:
        assert _bound(at, False) == raw
        assert _bound(at.astimezone(timezone(timedelta(hours=5))), False) == raw


def test_read_transactions_plan_for_index_lookups_until_they_end(sync_runtime):
    """On PostgreSQL: custom plans, no sequential scans, for the transaction only."""
    settings = "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')"
    with sync_runtime.sessions() as session:
        if not is_postgres(session):
            index_lookups_for_reads(session)  # nothing to set
            return
        conn = session.connection()
        before = tuple(conn.exec_driver_sql(settings).one())
        index_lookups_for_reads(session)
        assert tuple(conn.exec_driver_sql(settings).one()) == ("force_custom_plan", "off")
        session.rollback()
        assert tuple(session.connection().exec_driver_sql(settings).one()) == before
    assert before[1] == "on"
