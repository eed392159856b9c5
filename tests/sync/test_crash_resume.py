"""A crash at any point of a sync, then a rerun, leaves exactly the outbox of a clean run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select

from connector.runs import RunService
from connector.storage.models import (
    Attribution,
    Conversion,
    CrmStage,
    Cursor,
    Deal,
    DealStageEvent,
)
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


class Killed(Exception):
    """The process 'dies' at a chosen database statement of the sync."""


#: The run's own bookkeeping (lease, run record) is not part of the sync being crashed.
BOOKKEEPING = ("leases", "sync_runs")
SYNC_TABLES = (Deal, DealStageEvent, Attribution, Conversion, Cursor, CrmStage)


@dataclass
class StatementKiller:
    """Counts the sync step's statements and commits; raises ``Killed`` at number ``at``."""

    at: int | None = None
    seen: int = 0
    armed: bool = False

    def attach(self, engine: Any) -> None:
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def detach(self, engine: Any) -> None:
        event.remove(engine, "before_cursor_execute", self._statement)
        event.remove(engine, "commit", self._commit)

    def _step(self, what: str) -> None:
        if not self.armed:
            return
        self.seen += 1
        if self.at is not None and self.seen == self.at:
            raise Killed(f"process killed at step {self.seen}: {what[:60]}")

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if not any(t in statement for t in BOOKKEEPING):
            self._step(statement)

    def _commit(self, conn) -> None:
        self._step("COMMIT")


@dataclass
class ArmedStep:
    """The real sync step, with the killer armed only while it runs (not the run's bookkeeping)."""

    step: Any
    killer: StatementKiller
    name: str = "sync"

    def __call__(self, ctx: Any) -> None:
        self.killer.armed = True
        try:
            self.step(ctx)
        finally:
            self.killer.armed = False


def run_sync(runtime: Any, clock: Any, killer: StatementKiller) -> str:
    """One run like the scheduler's, the killer armed during the sync step."""
    step = ArmedStep(Syncer(runtime, clock).step(), killer)
    return RunService(runtime, steps=[step]).run_now("test")[1]


def test_a_kill_at_any_database_step_then_rerun_leaves_the_same_outbox(
    hubspot, seed, sync_runtime, clock
):
    """Killed before any statement or commit of a run, the rerun reaches the clean outbox.

    The run being killed plans all three kinds at once: two new wins, an amount change
    (restatement) and a deal that left closed-won (retraction).
    """
    contact = hubspot.add_contact({"email": "buyer@example.com"})
    visitor = seed.visitor(seed.person("buyer@example.com"), ga_client_id="5.5")
    seed.touch(visitor, NOW - timedelta(days=3), click=("gclid", "G-BUYER"))
    restated, reopened = won_deal(hubspot, [contact]), won_deal(hubspot, [contact])
    new_wins = [won_deal(hubspot, [contact], dealstage="contractsent") for _ in range(2)]
    killer = StatementKiller()
    killer.attach(sync_runtime.engine)

    def replay(kill_at: int | None) -> str:
        """A fresh store synced once, the deals changed, then the run that may be killed."""
        with sync_runtime.sessions.begin() as session:  # same journeys, no sync state
            for table in SYNC_TABLES:
                session.execute(delete(table))
        for deal in new_wins:
            hubspot.update_deal(deal, dealstage="contractsent")
        hubspot.update_deal(restated, amount="1000")
        hubspot.update_deal(reopened, dealstage="closedwon")
        clock.advance(minutes=30)
        killer.at = None
        assert run_sync(sync_runtime, clock, killer) == "succeeded"
        for deal in new_wins:
            hubspot.update_deal(deal, dealstage="closedwon")
        hubspot.update_deal(restated, amount="1500")
        hubspot.update_deal(reopened, dealstage="contractsent")
        clock.advance(minutes=30)
        killer.at, killer.seen = kill_at, 0
        try:
            return run_sync(sync_runtime, clock, killer)
        finally:
            killer.at = None

    try:
        assert replay(None) == "succeeded"
        reference, steps = outbox(sync_runtime), killer.seen
        assert steps > 15, steps  # every statement and commit of a one-page run
        for at in range(1, steps + 1):
            assert replay(at) == "failed", f"killed at step {at}"
            clock.advance(minutes=5)
            assert run_sync(sync_runtime, clock, killer) == "succeeded"
            assert outbox(sync_runtime) == reference, f"killed at step {at}"
    finally:
        killer.detach(sync_runtime.engine)
    kinds = sorted((r[0], r[1], r[2]) for r in reference if r[1] == "google_ads")
    assert kinds == sorted(
        [(d, "google_ads", "conversion") for d in (restated, reopened, *new_wins)]
        + [(restated, "google_ads", "restatement"), (reopened, "google_ads", "retraction")]
    )
