"""The pull's promises at the sync level: cursor overlap, rate limits, a daily cap that resumes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connector.runtime import Runtime
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.sandbox_kit.faults import Fault, FaultPlan
from tests.sync.conftest import NOW, Syncer, outbox, won_deal


def tracked(hubspot: Any, seed: Any) -> str:
    contact = hubspot.add_contact({"email": "buyer@example.com"})
    visitor = seed.visitor(seed.person("buyer@example.com"), ga_client_id="5.5")
    seed.touch(visitor, NOW - timedelta(days=3), click=("gclid", "G-BUYER"))
    return contact


@pytest.fixture
def lagging_hubspot(clock, faults) -> Iterator[HubSpotSandbox]:
    """HubSpot whose search index shows a new object only 30 s after it was created."""
    sandbox = HubSpotSandbox(
        faults, now=clock.now, monotonic=clock.monotonic, search_lag=timedelta(seconds=30)
    )
    with sandbox.start():
        yield sandbox


def test_a_deal_indexed_late_is_caught_by_the_cursor_overlap(
    lagging_hubspot, make_settings, seed_factory, clock
):
    """A deal searchable only after the run read past its time is pulled by the next run.

    Deal A is won at t (not yet in the search index); deal B, created long before, is changed
    at t+1s. The run at t+2s sees only B and stores the cursor at t+1s: A's time is older than
    the cursor, so only the overlap brings it back.
    """
    hubspot = lagging_hubspot
    rt = Runtime.from_settings(make_settings({"platforms": {"hubspot": hubspot.platform_config()}}))
    try:
        contact = tracked(hubspot, seed_factory(rt))
        old = won_deal(hubspot, [contact], dealstage="contractsent")
        clock.advance(minutes=5)
        late = won_deal(hubspot, [contact])
        clock.advance(seconds=1)
        hubspot.update_deal(old, dealstage="closedwon")
        clock.advance(seconds=1)
        sync = Syncer(rt, clock)
        assert sync() == "succeeded"
        assert sync.last["counts"]["deals_won"] == 1  # only B: A is not searchable yet
        clock.advance(minutes=1)
        assert sync() == "succeeded"
        assert sync.last["counts"]["deals_won"] == 2  # A now, B again (unchanged)
        assert sync.last["counts"]["conversions_planned"] == 0  # hubspot only: no destination
        with rt.sessions() as session:
            from connector.storage.models import Deal

            assert session.get(Deal, late).is_won and session.get(Deal, old).is_won
    finally:
        rt.close()


@pytest.fixture
def seed_factory():
    from tests.sync.conftest import Seeder

    return Seeder


def test_rate_limited_requests_are_retried_and_the_run_completes(
    hubspot, seed, faults: FaultPlan, sync, sync_runtime, clock
):
    """429s on a third of the requests: each is waited out and retried; nothing is lost."""
    contact = tracked(hubspot, seed)
    deals = []
    for i in range(250):
        clock.advance(milliseconds=1)  # distinct modification times, as in a real CRM
        deals.append(won_deal(hubspot, [contact], amount=str(100 + i)))
    faults.script.update({n: Fault.RATE_LIMIT for n in (2, 3, 5, 8)})
    assert sync() == "succeeded"
    assert {r[0] for r in outbox(sync_runtime)} == set(deals)
    # 1 pipelines + 2 pages x (search, associations, contacts) = 7, plus the 4 refused.
    assert sync.last["counts"]["hubspot_requests"] == 7 + 4


@pytest.fixture
def capped_hubspot(clock, faults) -> Iterator[HubSpotSandbox]:
    """Budget for the pipelines call and one page of deals (search, associations, contacts)."""
    sandbox = HubSpotSandbox(faults, now=clock.now, monotonic=clock.monotonic, requests_per_day=4)
    with sandbox.start():
        yield sandbox


def test_the_daily_limit_stops_the_run_and_the_next_day_resumes(
    capped_hubspot, make_settings, sync_config, clock
):
    """Past the daily budget the run stops at once and keeps its committed page.

    The next day's run pulls the rest, and the outbox is complete with no duplicates.
    """
    from tests.sync.conftest import Seeder

    hubspot = capped_hubspot
    sync_config["platforms"]["hubspot"] = hubspot.platform_config()
    rt = Runtime.from_settings(make_settings(sync_config))
    try:
        contact = tracked(hubspot, Seeder(rt))
        deals = []
        for i in range(250):
            clock.advance(milliseconds=1)
            deals.append(won_deal(hubspot, [contact], amount=str(100 + i)))
        sync = Syncer(rt, clock)
        assert sync() == "partial"
        assert "daily limit" in sync.last["summary"]["sync"]["stopped"]
        assert hubspot.daily_refused == 1  # a daily 429 is not retried within the run
        first_day = {r[0] for r in outbox(rt)}
        assert len(first_day) == 200
        clock.advance(days=1)  # the sandbox's budget resets at midnight
        hubspot.requests_per_day = 7  # what the rest needs; without the reset only 3 are left
        assert sync() == "succeeded"
        assert hubspot.daily_refused == 1
        rows = outbox(rt)
        assert {r[0] for r in rows} == set(deals)
        assert len(rows) == len({(r[1], r[2], r[3]) for r in rows}) == 3 * 250
    finally:
        rt.close()
