"""Funnel and velocity after a real sync from the HubSpot sandbox (not rows written to the store).

One tracked person (a Google Ads click, then a form lead on Nov 20 12:00) whom HubSpot moves
lead → MQL (Nov 22 12:00) → SQL (Nov 25 12:00); a deal created Nov 26 12:00 is won Nov 30 12:00,
then renamed at 14:00 (a later modification that must not move the stage's time). The sync and
the lifecycle step pull it all through the unmodified SDK; every time is the sandbox's own stamp.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from connector.reports.funnel import funnel_report
from connector.reports.sources import ReportRange
from connector.reports.velocity import velocity_report
from connector.runs import RunService
from connector.storage.models import DealStageEvent, Lead
from connector.sync.lifecycle import LifecycleStep
from connector.sync.step import SyncStep
from tests.sync.conftest import NOW, source_factory

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
WON_AT = NOW + timedelta(days=10)  # Nov 30 12:00


def iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def world(hubspot, seed, clock, sync_runtime) -> str:
    """The story above, played on the sandbox's clock; returns the deal ID."""
    person = seed.person("ann@example.com")
    visitor = seed.visitor(person)
    seed.touch(visitor, NOW - timedelta(hours=1), click=("gclid", "G-1"))
    with sync_runtime.sessions.begin() as session:  # what /identify records for the form
        session.add(Lead(person_id=person, visitor_id=visitor, kind="form", occurred_at=NOW))
    contact = hubspot.add_contact({"email": "ann@example.com", "lifecyclestage": "lead"})
    clock.advance(days=2)
    hubspot.update_contact(contact, lifecyclestage="marketingqualifiedlead")
    clock.advance(days=3)
    hubspot.update_contact(contact, lifecyclestage="salesqualifiedlead")
    clock.advance(days=1)
    deal = hubspot.add_deal(
        {"dealname": "Ann", "amount": "900", "deal_currency_code": "USD"}, [contact]
    )
    clock.advance(days=4)
    hubspot.update_deal(deal, dealstage="closedwon", closedate=iso(WON_AT))
    clock.advance(hours=2)
    hubspot.update_deal(deal, dealname="Ann (renewal terms)")
    clock.advance(hours=1)
    return deal


def run_sync(sync_runtime, clock) -> None:
    steps = [
        SyncStep(source_factory=source_factory(clock), now=clock.now),
        LifecycleStep(source_factory=source_factory(clock)),
    ]
    _, status = RunService(sync_runtime, steps=steps).run_now("test")
    assert status == "succeeded"


def test_stage_event_carries_hubspots_date_entered_time(hubspot, seed, clock, sync_runtime):
    """The won stage's event time is hs_v2_date_entered_closedwon, not the later modification."""
    deal = world(hubspot, seed, clock, sync_runtime)
    assert hubspot.deals[deal]["hs_v2_date_entered_closedwon"] == "2026-11-30T12:00:00.000Z"
    run_sync(sync_runtime, clock)
    with sync_runtime.sessions() as session:
        events = session.execute(
            select(DealStageEvent.stage, DealStageEvent.entered_at).where(
                DealStageEvent.deal_id == deal
            )
        ).all()
    assert [(stage, at) for stage, at in events] == [("closedwon", WON_AT)]


def test_funnel_after_a_sandbox_sync(hubspot, seed, clock, sync_runtime):
    """Paid Search: 1 visitor, lead, MQL, SQL, opportunity and customer, in both modes."""
    world(hubspot, seed, clock, sync_runtime)
    run_sync(sync_runtime, clock)
    for mode in ("period", "cohort"):
        with sync_runtime.sessions() as session:
            data = funnel_report(session, NOV, by="channel", model="last_click", mode=mode)
        rows = {r["group"]: r for r in data["rows"]}
        paid = rows["Paid Search"]
        stages = [paid[s] for s in data["stages"]]
        assert stages == [1, 1, 1, 1, 1, 1], mode
        assert set(paid["rates"].values()) == {Decimal(1)}, mode
        # No spend pulled: 0 over 1 of each stage is 0.00 (None is kept for a 0 denominator).
        assert set(paid["costs"].values()) == {Decimal("0.00")}, mode


def test_velocity_after_a_sandbox_sync(hubspot, seed, clock, sync_runtime):
    """Days between HubSpot's stamps: lead→MQL 2, MQL→SQL 3, SQL→won 5, lead→won 10, cycle 4."""
    world(hubspot, seed, clock, sync_runtime)
    run_sync(sync_runtime, clock)
    with sync_runtime.sessions() as session:
        data = velocity_report(session, NOV, by="channel", model="last_click")
    (paid,) = data["rows"]
    assert paid["group"] == "Paid Search"
    expected = {
        "lead_to_mql": "2.00",
        "mql_to_sql": "3.00",
        "sql_to_won": "5.00",
        "lead_to_won": "10.00",
        "sales_cycle": "4.00",
    }
    for measure, days in expected.items():
        cell = paid[measure]
        assert (cell["count"], cell["median_days"], cell["p75_days"]) == (
            1,
            Decimal(days),
            Decimal(days),
        ), measure
