"""``sync --dry-run`` validates exactly what it would newly send, and changes no stored row.

The whole loop runs against the sandboxes (HubSpot, Google Data Manager, GA4, Meta): the deal
is planned in memory only, each destination's validate-only path answers for it, and every
table of the metadata reads the same afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from connector.cli import cli
from connector.runs import SUCCEEDED, RunService, get_run
from connector.runtime import Runtime
from connector.storage.models import Base, SyncRun, utcnow
from platforms import SANDBOXES, load
from tests.sync.conftest import Seeder, won_deal

DESTINATIONS = ("google_ads", "ga4", "meta")
#: A conversion action the Google sandbox's account does not have.
UNKNOWN_ACTION = "999999"


GCLID = "Cj0KCQ-dry-run"


@pytest.fixture(params=["data_manager"])
def google_api(request: pytest.FixtureRequest) -> str:
    """Which Google API the destination uses (a test may parametrize both)."""
    return str(request.param)


@pytest.fixture
def sandboxes(google_api: str) -> Iterator[dict[str, Any]]:
    """The three destination sandboxes, started on the real clock."""
    options: dict[str, dict[str, Any]] = {"google_ads": {"api": google_api}}
    started = {
        name: load(SANDBOXES[name])(**options.get(name, {})).start() for name in DESTINATIONS
    }
    started["google_ads"].add_click(GCLID, utcnow() - timedelta(days=3))
    yield started
    for sandbox in started.values():
        sandbox.stop()


def _config(hubspot: Any, sandboxes: dict[str, Any], **meta: Any) -> dict[str, Any]:
    platforms = {name: sandbox.platform_config() for name, sandbox in sandboxes.items()}
    platforms["meta"].update(meta)
    return {"platforms": {"hubspot": hubspot.platform_config(), **platforms}}


def _contact(hubspot: Any, runtime: Runtime) -> str:
    """A HubSpot contact whose tracked visitor has a recent gclid, GA client and Meta cookie."""
    seed = Seeder(runtime)
    contact = hubspot.add_contact({"email": "ann@example.com"})
    visitor = seed.visitor(
        seed.person("ann@example.com"),
        ga_client_id="111.222",
        fbp="fb.1.1700000000000.42",
        consent_ad_user_data=True,
        consent_ad_personalization=True,
    )
    seed.touch(visitor, utcnow() - timedelta(days=3), click=("gclid", GCLID))
    return contact


def snapshot(runtime: Runtime) -> dict[str, list[str]]:
    """Every row of every table in the metadata, as sorted text (comparable as a whole)."""
    tables: dict[str, list[str]] = {}
    with runtime.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            tables[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    return tables


def assert_unchanged_but_the_run(before: dict[str, list[str]], runtime: Runtime) -> None:
    """All tables equal; ``sync_runs`` only gained the dry run's own record."""
    after = snapshot(runtime)
    assert after.keys() == before.keys()
    changed = [name for name in before if before[name] != after[name]]
    assert changed in ([], [SyncRun.__tablename__]), changed
    with runtime.sessions() as session:
        runs = session.scalars(select(SyncRun).order_by(SyncRun.id)).all()
    assert len(after[SyncRun.__tablename__]) == len(before[SyncRun.__tablename__]) + 1
    assert runs[-1].dry_run is True


def _dry_run(runtime: Runtime) -> tuple[str, dict[str, Any]]:
    run_id, status = RunService(runtime).run_now("cli", dry_run=True)
    run = get_run(runtime, run_id)
    assert run is not None
    return status, run.summary or {}


@pytest.mark.parametrize("google_api", ["data_manager", "google_ads"], indirect=True)
def test_dry_run_validates_what_it_would_plan_and_changes_no_table(
    hubspot, sandboxes, make_settings
):
    """A new won deal is validated by all three platforms; no sandbox keeps it, no row changes.

    Google through either API (Data Manager's and the Google Ads API's ``validate_only``).
    """
    runtime = Runtime.from_settings(
        make_settings(_config(hubspot, sandboxes, test_event_code="TEST4242"))
    )
    try:
        won_deal(hubspot, [_contact(hubspot, runtime)], close=utcnow() - timedelta(hours=2))
        before = snapshot(runtime)
        status, summary = _dry_run(runtime)
        assert status == SUCCEEDED, summary
        for name in DESTINATIONS:
            assert summary[name]["accepted"] == 1, (name, summary[name])
            assert summary[name]["dry_run"] is True
        assert_unchanged_but_the_run(before, runtime)
    finally:
        runtime.close()
    google, ga4, meta = (sandboxes[n] for n in DESTINATIONS)
    assert google.accepted == []  # validate_only: checked, nothing stored
    assert ga4.debug_requests >= 1 and ga4.collect_requests == 0 and ga4.accepted == []
    assert meta.accepted == []  # kept apart as a test event, never counted
    assert [e["test_event_code"] for e in meta.test_events] == ["TEST4242"]


def test_meta_without_test_event_code_is_not_validated_and_gets_nothing(
    hubspot, sandboxes, make_settings
):
    """Meta has no validate-only mode: without a test code it is reported, never posted to."""
    runtime = Runtime.from_settings(make_settings(_config(hubspot, sandboxes)))
    try:
        won_deal(hubspot, [_contact(hubspot, runtime)], close=utcnow() - timedelta(hours=2))
        before = snapshot(runtime)
        status, summary = _dry_run(runtime)
        assert status == SUCCEEDED
        assert summary["meta"]["not_validated"] == 1 and summary["meta"]["accepted"] == 0
        assert "test_event_code" in summary["meta"]["examples"]["not_validated"]["NOT_VALIDATED"][0]
        assert_unchanged_but_the_run(before, runtime)
    finally:
        runtime.close()
    assert sandboxes["meta"].event_requests == 0
    assert sandboxes["meta"].test_events == [] and sandboxes["meta"].accepted == []


def test_cli_prints_what_each_platform_would_do_and_exits_1_on_refusal(
    hubspot, sandboxes, make_settings, db_url, tmp_path
):
    """A conversion action Google does not know stops Google's check: printed, exit code 1."""
    config = _config(hubspot, sandboxes, test_event_code="TEST4242")
    with open("mappings/hubspot.yaml") as profile:
        events = yaml.safe_load(profile)["events"]
    events[0]["platforms"]["google_ads"] = {"conversion_action_id": UNKNOWN_ACTION}
    config["mapping"] = {"overrides": {"events": events}}
    config["database"] = {"url": db_url}
    config["server"] = {"trigger_token": "test-trigger-token"}
    runtime = Runtime.from_settings(make_settings(config))
    try:
        won_deal(hubspot, [_contact(hubspot, runtime)], close=utcnow() - timedelta(hours=2))
        before = snapshot(runtime)
    finally:
        runtime.close()
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ["-c", str(path), "sync", "--dry-run"])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "  ga4: 1 would be accepted" in lines, result.output
    assert "  meta: 1 would be accepted" in lines, result.output
    assert "  google_ads: not checked" in lines, result.output
    stopped = lines[lines.index("  google_ads: not checked") + 1]
    assert stopped.startswith("    stopped: ") and UNKNOWN_ACTION in stopped, result.output
    runtime = Runtime.from_settings(make_settings(config))
    try:
        assert_unchanged_but_the_run(before, runtime)
    finally:
        runtime.close()
    assert sandboxes["google_ads"].accepted == [] and sandboxes["ga4"].collect_requests == 0


def test_cli_exits_0_when_every_platform_would_accept(
    hubspot, sandboxes, make_settings, db_url, tmp_path
):
    """Nothing refused: the dry run's text names each platform's acceptance and exits 0."""
    config = _config(hubspot, sandboxes, test_event_code="TEST4242")
    config["database"] = {"url": db_url}
    config["server"] = {"trigger_token": "test-trigger-token"}
    runtime = Runtime.from_settings(make_settings(config))
    try:
        won_deal(hubspot, [_contact(hubspot, runtime)], close=utcnow() - timedelta(hours=2))
    finally:
        runtime.close()
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ["-c", str(path), "sync", "--dry-run"])
    assert result.exit_code == 0, result.output
    for name in DESTINATIONS:
        assert f"  {name}: 1 would be accepted" in result.output.splitlines(), result.output


def test_backfill_dry_run_validates_too(hubspot, sandboxes, make_settings, db_url, tmp_path):
    """``backfill --dry-run`` plans the past in memory and prints each platform's check."""
    config = _config(hubspot, sandboxes, test_event_code="TEST4242")
    config["database"] = {"url": db_url}
    config["server"] = {"trigger_token": "test-trigger-token"}
    runtime = Runtime.from_settings(make_settings(config))
    try:
        won_deal(hubspot, [_contact(hubspot, runtime)], close=utcnow() - timedelta(hours=2))
        before = snapshot(runtime)
    finally:
        runtime.close()
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    since = (utcnow() - timedelta(days=30)).strftime("%Y-%m-%d")
    result = CliRunner().invoke(cli, ["-c", str(path), "backfill", "--since", since, "--dry-run"])
    assert result.exit_code == 0, result.output
    for name in DESTINATIONS:
        assert f"  {name}: 1 would be accepted" in result.output.splitlines(), result.output
    runtime = Runtime.from_settings(make_settings(config))
    try:
        assert_unchanged_but_the_run(before, runtime)
    finally:
        runtime.close()
