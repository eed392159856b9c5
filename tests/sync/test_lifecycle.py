"""The lifecycle step: MQL/SQL entry times pulled from the HubSpot sandbox into the store.

Through the real HubSpotSource and the unmodified SDK; the sandbox stamps the date-entered
properties itself when ``lifecyclestage`` changes, so every expected time below is the CRM's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from connector.config import parse_config
from connector.identity import email_key
from connector.mapping import MappingProfile, load_profile
from connector.pipeline import default_steps
from connector.runs import RunService, get_run
from connector.runtime import Runtime
from connector.storage.models import Cursor, LifecycleEvent
from connector.sync.lifecycle import LifecycleStep
from connector.sync.step import SyncStep
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.sandbox_kit import Fault, FaultPlan

from .conftest import FakeClock, source_factory

MQL = "marketingqualifiedlead"
SQL = "salesqualifiedlead"
MQL_DATE = "hs_lifecyclestage_marketingqualifiedlead_date"
SQL_DATE = "hs_lifecyclestage_salesqualifiedlead_date"
CURSOR = "hubspot.contacts.lifecycle"
SEARCH = "POST /crm/v3/objects/contacts/search"


class Runner:
    """Runs only the lifecycle step under the lease, like the scheduler does."""

    def __init__(self, runtime: Runtime, clock: FakeClock, profile: MappingProfile) -> None:
        self.runtime, self.clock, self.profile = runtime, clock, profile
        self.last: dict[str, Any] = {}

    def __call__(self, **options: Any) -> str:
        step = LifecycleStep(source_factory=source_factory(self.clock), profile=self.profile)
        run_id, status = RunService(self.runtime, steps=[step]).run_now("test", **options)
        run = get_run(self.runtime, run_id)
        assert run is not None
        self.last = {"counts": run.counts, "summary": run.summary.get("lifecycle", {})}
        return status


@pytest.fixture
def profile(sync_runtime: Runtime) -> MappingProfile:
    """The built-in hubspot profile (where the lifecycle property names live)."""
    return load_profile(sync_runtime.settings)


@pytest.fixture
def run(sync_runtime: Runtime, clock: FakeClock, profile: MappingProfile) -> Runner:
    return Runner(sync_runtime, clock, profile)


def events(runtime: Runtime) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(contact, milestone) -> (entered_at, email hash, crm stage, updated_at)."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(
                LifecycleEvent.contact_id,
                LifecycleEvent.stage,
                LifecycleEvent.entered_at,
                LifecycleEvent.email_sha256,
                LifecycleEvent.crm_stage,
                LifecycleEvent.updated_at,
            )
        ).all()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def crm_time(hubspot: HubSpotSandbox, contact_id: str, prop: str) -> datetime:
    value = hubspot.contacts[contact_id][prop]
    assert value, f"the sandbox did not stamp {prop}"
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def cursor(runtime: Runtime) -> str | None:
    with runtime.sessions() as session:
        row = session.get(Cursor, CURSOR)
        return row.value if row else None


def test_lead_to_mql_to_sql_is_recorded_once_each_with_the_crm_times(
    hubspot: HubSpotSandbox, clock: FakeClock, run: Runner, sync_runtime: Runtime
) -> None:
    cid = hubspot.add_contact({"email": "Ada.Lovelace@Example.com", "lifecyclestage": "lead"})
    assert run() == "succeeded"
    assert events(sync_runtime) == {}
    assert run.last["counts"]["contacts_pulled"] == 1

    clock.advance(hours=3)
    hubspot.update_contact(cid, lifecyclestage=MQL)
    assert run() == "succeeded"
    mql_at = crm_time(hubspot, cid, MQL_DATE)
    assert mql_at == datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    stored = events(sync_runtime)
    assert set(stored) == {(cid, "mql")}
    assert stored[(cid, "mql")][:3] == (mql_at, email_key("ada.lovelace@example.com"), MQL)
    assert run.last["counts"]["mqls_recorded"] == 1
    assert run.last["summary"]["recorded"] == {"mql": 1, "sql": 0}

    clock.advance(days=2)
    hubspot.update_contact(cid, lifecyclestage=SQL)
    assert run() == "succeeded"
    sql_at = crm_time(hubspot, cid, SQL_DATE)
    assert sql_at == mql_at + timedelta(days=2)
    after = events(sync_runtime)
    assert set(after) == {(cid, "mql"), (cid, "sql")}
    assert after[(cid, "mql")] == stored[(cid, "mql")]  # untouched, not even re-written
    assert after[(cid, "sql")][0] == sql_at
    assert run.last["counts"]["mqls_recorded"] == 0
    assert run.last["counts"]["sqls_recorded"] == 1


def test_pull_is_idempotent(
    hubspot: HubSpotSandbox, clock: FakeClock, run: Runner, sync_runtime: Runtime
) -> None:
    """Re-pulling (overlap, or a full replay from the start) writes nothing."""
    for i in range(5):
        clock.advance(seconds=1)
        hubspot.add_contact({"email": f"p{i}@example.com", "lifecyclestage": MQL})
    assert run() == "succeeded"
    first = events(sync_runtime)
    assert len(first) == 5
    clock.advance(minutes=1)
    assert run() == "succeeded"  # within the overlap: all five are seen again
    assert run.last["counts"]["contacts_pulled"] == 5
    assert run.last["counts"]["mqls_recorded"] == 0
    assert run.last["counts"]["lifecycle_times_changed"] == 0
    assert run(since=datetime(2020, 1, 1, tzinfo=UTC)) == "succeeded"  # backfill-style replay
    assert run.last["counts"]["mqls_recorded"] == 0
    assert events(sync_runtime) == first  # same rows, same updated_at


def test_cursor_overlap_catches_late_changes_and_the_cursor_bounds_the_pull(
    hubspot: HubSpotSandbox, clock: FakeClock, run: Runner, sync_runtime: Runtime
) -> None:
    """The next pull starts 10 minutes before the newest change it committed, no earlier."""
    hubspot.add_contact({"email": "first@example.com", "lifecyclestage": "lead"})
    assert run() == "succeeded"
    high = cursor(sync_runtime)
    assert high == clock.wall.isoformat()
    # Changes that become visible late (HubSpot's search index lags), stamped before the cursor:
    clock.advance(minutes=-5)
    late = hubspot.add_contact({"email": "late@example.com", "lifecyclestage": MQL})
    clock.advance(minutes=-10)
    stale = hubspot.add_contact({"email": "stale@example.com", "lifecyclestage": MQL})
    clock.advance(minutes=15)
    assert run() == "succeeded"
    stored = events(sync_runtime)
    assert (late, "mql") in stored  # 5 minutes before the cursor: inside the overlap
    assert (stale, "mql") not in stored  # 15 minutes before: the cursor is really used
    assert run.last["counts"]["contacts_pulled"] == 2  # `first` (overlap) and `late`
    assert cursor(sync_runtime) == high  # never moves backward


def test_contacts_without_email_or_unknown_to_the_store_are_recorded_by_id(
    hubspot: HubSpotSandbox, run: Runner, sync_runtime: Runtime, seed
) -> None:
    known = hubspot.add_contact({"email": "known@example.com", "lifecyclestage": MQL})
    seed.person("known@example.com")
    stranger = hubspot.add_contact({"email": "stranger@example.com", "lifecyclestage": SQL})
    nobody = hubspot.add_contact({"firstname": "No Email", "lifecyclestage": MQL})
    garbled = hubspot.add_contact({"email": "not an address", "lifecyclestage": MQL})
    assert run() == "succeeded"
    stored = events(sync_runtime)
    assert set(stored) == {(known, "mql"), (stranger, "sql"), (nobody, "mql"), (garbled, "mql")}
    assert stored[(known, "mql")][1] == email_key("known@example.com")
    assert stored[(stranger, "sql")][1] == email_key("stranger@example.com")
    assert stored[(nobody, "mql")][1] is None
    assert stored[(garbled, "mql")][1] is None


def test_missing_or_bad_times_are_counted_not_fatal(
    hubspot: HubSpotSandbox, run: Runner, sync_runtime: Runtime
) -> None:
    """A contact in a mapped stage without its date (an import) is reported, not invented."""
    undated = hubspot.add_contact({"email": "u@example.com", "lifecyclestage": MQL, MQL_DATE: ""})
    garbage = hubspot.add_contact({"email": "g@example.com", "lifecyclestage": SQL})
    hubspot.contacts[garbage][SQL_DATE] = "yesterday-ish"  # a bad value written by some import
    ok = hubspot.add_contact({"email": "ok@example.com", "lifecyclestage": SQL})
    assert run() == "succeeded"
    assert set(events(sync_runtime)) == {(ok, "sql")}
    assert run.last["summary"]["not_recorded"] == {
        "mql_without_time": 1,
        "unparseable_time": 1,
        "sql_without_time": 1,  # the garbled one sits in SQL without a usable time too
    }
    assert undated not in {k[0] for k in events(sync_runtime)}


def test_re_entering_a_stage_moves_the_time_without_a_second_row(
    hubspot: HubSpotSandbox, clock: FakeClock, run: Runner, sync_runtime: Runtime
) -> None:
    """Cleared and set again in HubSpot: the CRM's new date replaces the old one."""
    cid = hubspot.add_contact({"email": "again@example.com", "lifecyclestage": MQL})
    assert run() == "succeeded"
    first = events(sync_runtime)[(cid, "mql")][0]
    clock.advance(days=1)
    hubspot.update_contact(cid, lifecyclestage="")
    hubspot.update_contact(cid, lifecyclestage=MQL)
    assert run() == "succeeded"
    stored = events(sync_runtime)
    assert list(stored) == [(cid, "mql")]
    assert stored[(cid, "mql")][0] == first + timedelta(days=1)
    assert run.last["counts"]["lifecycle_times_changed"] == 1
    assert run.last["counts"]["mqls_recorded"] == 0


def test_custom_stages_map_to_milestones_and_the_earliest_time_wins(
    hubspot: HubSpotSandbox, clock: FakeClock, sync_runtime: Runtime, make_settings, sync_config
) -> None:
    """A profile override maps a custom stage (and drops nothing else) to MQL."""
    prop = hubspot.add_lifecycle_stage("webinarqualified", before=SQL)
    overrides = {"lifecycle": {"mql": {"webinarqualified": prop}}}
    settings = make_settings({**sync_config, "mapping": {"overrides": overrides}})
    profile = load_profile(settings)
    assert profile.lifecycle.stages("mql") == {MQL: MQL_DATE, "webinarqualified": prop}
    runner = Runner(sync_runtime, clock, profile)
    early = hubspot.add_contact({"email": "w@example.com", "lifecyclestage": "webinarqualified"})
    clock.advance(hours=1)
    hubspot.update_contact(early, lifecyclestage=SQL)
    late = hubspot.add_contact({"email": "m@example.com", "lifecyclestage": MQL})
    clock.advance(hours=1)
    hubspot.update_contact(late, lifecyclestage="webinarqualified")
    assert runner() == "succeeded"
    stored = events(sync_runtime)
    assert stored[(early, "mql")][0] == crm_time(hubspot, early, prop)
    assert stored[(early, "mql")][2] == "webinarqualified"
    assert stored[(late, "mql")][0] == crm_time(hubspot, late, MQL_DATE)  # earlier of the two
    assert stored[(late, "mql")][2] == MQL
    assert (early, "sql") in stored


def test_many_contacts_at_one_time_page_through_with_few_requests(
    hubspot: HubSpotSandbox, run: Runner, sync_runtime: Runtime
) -> None:
    """450 contacts in one millisecond: drained by ID, each recorded once, no 400s."""
    ids = [
        hubspot.add_contact({"email": f"c{i}@example.com", "lifecyclestage": MQL})
        for i in range(450)
    ]
    assert run() == "succeeded"
    stored = events(sync_runtime)
    assert sorted(k[0] for k in stored) == sorted(ids)
    assert run.last["counts"]["contacts_pulled"] == 450
    # 1 page, then the crowd at that millisecond drained by ID (3 pages), then nothing after it.
    assert hubspot.requests_by_endpoint[SEARCH] == run.last["counts"]["hubspot_requests"] == 5
    assert hubspot.rejected == []


def test_dry_run_reports_but_stores_nothing(
    hubspot: HubSpotSandbox, run: Runner, sync_runtime: Runtime
) -> None:
    hubspot.add_contact({"email": "dry@example.com", "lifecyclestage": SQL})
    assert run(dry_run=True) == "succeeded"
    assert run.last["summary"]["recorded"] == {"mql": 0, "sql": 1}
    assert events(sync_runtime) == {}
    assert cursor(sync_runtime) is None


def test_hubspot_failing_stops_the_step_and_the_rerun_completes(
    hubspot: HubSpotSandbox, faults: FaultPlan, clock: FakeClock, run: Runner, sync_runtime
) -> None:
    """Four failed attempts (the retry budget) on page 2: page 1 stays, the run is partial."""
    for i in range(300):
        clock.advance(milliseconds=1)
        hubspot.add_contact({"email": f"f{i}@example.com", "lifecyclestage": MQL})
    for n in range(2, 6):
        faults.script[n] = Fault.SERVER_ERROR
    assert run() == "partial"
    assert "gave up" in run.last["summary"]["stopped"]
    assert len(events(sync_runtime)) == 200
    clock.advance(minutes=1)
    assert run() == "succeeded"
    assert len(events(sync_runtime)) == 300


def test_not_mapped_or_targeted_runs_skip(
    hubspot: HubSpotSandbox, clock: FakeClock, sync_runtime: Runtime
) -> None:
    hubspot.add_contact({"email": "s@example.com", "lifecyclestage": MQL})
    unmapped = Runner(sync_runtime, clock, MappingProfile())
    assert unmapped() == "succeeded"
    assert unmapped.last["summary"]["skipped"].startswith("no lifecycle stages mapped")
    assert hubspot.requests_by_endpoint[SEARCH] == 0
    mapped = Runner(sync_runtime, clock, load_profile(sync_runtime.settings))
    assert mapped(deal_ids=["123"]) == "succeeded"
    assert "specific deals" in mapped.last["summary"]["skipped"]
    assert hubspot.requests_by_endpoint[SEARCH] == 0
    assert events(sync_runtime) == {}


def test_the_pipeline_runs_it_after_the_sync_when_hubspot_is_enabled(sync_config) -> None:
    with_hubspot = parse_config({"database": {"url": "sqlite://"}, **sync_config}, env={})
    names = [type(s) for s in default_steps(with_hubspot)]
    assert names[1:3] == [SyncStep, LifecycleStep]  # after the IP retention purge
    config = {**sync_config, "platforms": {**sync_config["platforms"], "hubspot": {}}}
    without = parse_config({"database": {"url": "sqlite://"}, **config}, env={})
    assert LifecycleStep not in [type(s) for s in default_steps(without)]


def test_the_row_count_matches_the_unique_key(
    hubspot: HubSpotSandbox, clock: FakeClock, run: Runner, sync_runtime: Runtime
) -> None:
    """One row per (contact, milestone), however often the contact changes."""
    cid = hubspot.add_contact({"email": "k@example.com", "lifecyclestage": MQL})
    for _ in range(3):
        clock.advance(minutes=20)
        hubspot.update_contact(cid, firstname=f"K{clock.wall.minute}")
        assert run() == "succeeded"
    with sync_runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(LifecycleEvent)) == 1


def test_the_mapped_lead_form_id_is_stored_and_follows_the_contact(
    hubspot: HubSpotSandbox, clock: FakeClock, sync_runtime: Runtime, make_settings, sync_config
) -> None:
    """``lifecycle.lead_id`` is requested and stored per milestone; unmapped, it is not read."""
    lead_id = "987654321098765"
    cid = hubspot.add_contact({"email": "f@example.com", "lifecyclestage": MQL})
    other = hubspot.add_contact(
        {"email": "g@example.com", "lifecyclestage": MQL, "meta_lead_id": lead_id}
    )
    plain = Runner(sync_runtime, clock, load_profile(sync_runtime.settings))
    assert plain() == "succeeded"
    with sync_runtime.sessions() as session:
        query = select(LifecycleEvent.contact_id, LifecycleEvent.crm_lead_id)
        assert {c: lead for c, lead in session.execute(query)} == {cid: None, other: None}

    overrides = {"lifecycle": {"lead_id": "meta_lead_id"}}
    profile = load_profile(make_settings({**sync_config, "mapping": {"overrides": overrides}}))
    assert "meta_lead_id" in profile.lifecycle_properties()
    mapped = Runner(sync_runtime, clock, profile)
    clock.advance(minutes=1)
    assert mapped(since=datetime(2020, 1, 1, tzinfo=UTC)) == "succeeded"
    assert mapped.last["counts"]["lifecycle_times_changed"] == 1  # only the contact with an ID
    clock.advance(hours=1)
    hubspot.update_contact(cid, meta_lead_id=" 123456789012345 ", lifecyclestage=SQL)
    assert mapped() == "succeeded"
    with sync_runtime.sessions() as session:
        query = select(LifecycleEvent.contact_id, LifecycleEvent.stage, LifecycleEvent.crm_lead_id)
        stored = {(c, s): lead for c, s, lead in session.execute(query)}
    assert stored == {
        (cid, "mql"): "123456789012345",
        (cid, "sql"): "123456789012345",
        (other, "mql"): lead_id,
    }
