"""A crash at any point of a sync, then a rerun, leaves exactly the outbox of a clean run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.storage.models import Cursor, Deal
from platforms.sandbox_kit.faults import Fault, FaultPlan
from tests.sync.conftest import NOW, Syncer, outbox, won_deal

DEALS = 450  # three search pages of 200, 200 and 50


def seed_deals(hubspot: Any, seed: Any) -> list[str]:
    contact = hubspot.add_contact({"email": "buyer@example.com"})
    visitor = seed.visitor(seed.person("buyer@example.com"), ga_client_id="5.5")
    seed.touch(visitor, NOW - timedelta(days=3), click=("gclid", "G-BUYER"))
    return [won_deal(hubspot, [contact], amount=str(100 + i)) for i in range(DEALS)]


def expected(deal_ids: list[str]) -> set[tuple[Any, ...]]:
    return {
        (d, dest, "conversion", f"cl-{d}-closed_won", Decimal(100 + i))
        for i, d in enumerate(deal_ids)
        for dest in ("google_ads", "ga4")
    }


def planned(runtime: Any) -> list[tuple[Any, ...]]:
    return [(r[0], r[1], r[2], r[3], r[5]) for r in outbox(runtime) if r[1] != "meta"]


def assert_complete(runtime: Any, deal_ids: list[str]) -> None:
    rows = planned(runtime)
    assert len(rows) == len(set(rows))
    assert set(rows) == expected(deal_ids)
    assert len([r for r in outbox(runtime) if r[1] == "meta"]) == DEALS
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Deal)) == DEALS


# Request 1 lists pipelines; each page then makes a search, an association read and a contact
# read. Failing four attempts in a row (the client's retry budget) at each of these numbers
# stops the sync at every distinct step of the pull.
@pytest.mark.parametrize("first_failing_request", [1, 2, 3, 4, 5, 6, 7, 9, 10])
def test_source_failure_at_any_request_then_rerun(
    first_failing_request, hubspot, seed, faults: FaultPlan, sync, sync_runtime, clock
):
    """HubSpot failing at any request stops the run; the rerun completes the same outbox."""
    deals = seed_deals(hubspot, seed)
    for n in range(first_failing_request, first_failing_request + 4):
        faults.script[n] = Fault.SERVER_ERROR
    assert sync() == "partial"
    assert "gave up" in sync.last["summary"]["sync"]["stopped"]
    clock.advance(minutes=5)
    assert sync() == "succeeded"
    assert_complete(sync_runtime, deals)
    before = outbox(sync_runtime)
    assert sync() == "succeeded"
    assert outbox(sync_runtime) == before


class CrashAfter:
    """The real source, but the process 'dies' when page ``n`` would be handed over."""

    def __init__(self, source: Any, n: int) -> None:
        self.source, self.n = source, n
        self.requests_made = 0

    def pipelines(self) -> Any:
        return self.source.pipelines()

    def deals_by_id(self, ids: list[str]) -> Any:
        return self.source.deals_by_id(ids)

    def deals_changed_since(self, since: Any, *, progress: Any = None) -> Iterator[Any]:
        for index, page in enumerate(self.source.deals_changed_since(since, progress=progress)):
            if index == self.n:
                raise RuntimeError(f"process killed before page {index + 1} was processed")
            yield page


@pytest.mark.parametrize("crash_at_page", [0, 1, 2])
def test_process_crash_between_pages_then_rerun(crash_at_page, hubspot, seed, sync_runtime, clock):
    """Pages committed before a crash stay; the rerun resumes and never doubles a row."""
    deals = seed_deals(hubspot, seed)
    crashing = Syncer(sync_runtime, clock, wrap=lambda s: CrashAfter(s, crash_at_page))
    assert crashing() == "failed"
    assert "process killed" in crashing.last["error"]
    committed = len(planned(sync_runtime))
    assert committed == crash_at_page * 200 * 2
    with sync_runtime.sessions() as session:
        cursor = session.get(Cursor, "hubspot.deals.modified")
    assert (cursor is not None) == (crash_at_page > 0)
    clock.advance(minutes=5)
    assert Syncer(sync_runtime, clock)() == "succeeded"
    assert_complete(sync_runtime, deals)


def test_requests_stay_at_the_minimum(hubspot, seed, sync, clock):
    """450 deals cost 1 pipelines call + 3 pages x (search, associations, contacts) = 10."""
    contact = hubspot.add_contact({"email": "buyer@example.com"})
    for i in range(DEALS):
        clock.advance(milliseconds=1)  # distinct modification times, as in a real CRM
        won_deal(hubspot, [contact], amount=str(100 + i))
    assert sync() == "succeeded"
    assert sync.last["counts"]["hubspot_requests"] == 10
    assert sync.last["counts"]["deals_pulled"] == DEALS
