"""Backfill: a replay from a date, planning only what each platform still accepts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.runtime import Runtime
from connector.sync.backfill import plan_notes, run_backfill, since_start
from tests.sync.conftest import NOW, Seeder, Syncer, outbox, won_deal


def test_backfill_replays_from_a_date_within_each_platforms_window(
    hubspot, seed, sync_runtime, clock
):
    """A replay plans a 20-day-old deal for Google and GA4 and explains why not for Meta."""
    contact = hubspot.add_contact({"email": "ann@example.com"})
    vid = seed.visitor(seed.person("ann@example.com"), ga_client_id="1.2")
    seed.touch(vid, NOW - timedelta(days=40), click=("gclid", "G-1"))
    won_deal(hubspot, [contact], close=NOW - timedelta(days=20))
    seen: list[int] = []
    _run_id, status = run_backfill(
        sync_runtime,
        since_start(date(2026, 1, 1)),
        progress=lambda _step, done, _total: seen.append(done),
        service=Syncer(sync_runtime, clock).service(),
    )
    assert status == "succeeded"
    assert sorted(r[1] for r in outbox(sync_runtime)) == ["ga4", "google_ads"]
    assert seen and seen[-1] == 1


def test_notes_explain_every_enabled_platform(sync_runtime):
    """The notes name GA4's 72 h (sent undated), Meta's 7 days and Google's 90/54 days."""
    notes = plan_notes(sync_runtime, since_start(date(2026, 6, 1)), NOW)
    assert set(notes) == {"google_ads", "ga4", "meta"}
    assert "72-hour" in notes["ga4"] and "without a timestamp" in notes["ga4"]
    assert "7 days" in notes["meta"]
    assert "90 days" in notes["google_ads"] and "54 days" in notes["google_ads"]


def test_cli_prints_the_windows_and_runs(tmp_path, hubspot, make_settings, sync_config, db_url):
    """``closedloop backfill --since`` explains the limits, shows progress, reports per platform.

    Two won deals: one closed a day ago, one 20 days ago (too old for Meta's 7 days). The CLI
    plans against the real clock, so the times here are relative to it.
    """
    now = datetime.now(UTC)
    config = {**sync_config, "database": {"url": db_url}, "schedule": {"enabled": False}}
    rt = Runtime.from_settings(make_settings(config))
    try:
        seeder = Seeder(rt)
        contact = hubspot.add_contact({"email": "ann@example.com"})
        vid = seeder.visitor(seeder.person("ann@example.com"), ga_client_id="1.2")
        seeder.touch(vid, now - timedelta(days=25), click=("gclid", "G-1"))
    finally:
        rt.close()
    won_deal(hubspot, [contact], close=now - timedelta(days=1))
    won_deal(hubspot, [contact], close=now - timedelta(days=20))
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ["-c", str(path), "backfill", "--since", "2026-01-01"])
    # The destinations point nowhere: every send fails, so the run is partial (exit 1).
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == "backfill from 2026-01-01: what each platform can still accept"
    assert {line.split(":")[0].strip() for line in lines[1:4]} == {"google_ads", "ga4", "meta"}
    assert "meta: deals closed after" in result.output
    assert "deals" in lines  # the progress bar's label (a bare label when not on a terminal)
    assert "run 1: partial" in result.output
    assert "  deals_won: 2" in lines and "  conversions_planned: 5" in lines
    assert any(
        line.startswith("  not planned for meta: 1 (Meta rejects a whole request") for line in lines
    ), result.output


def test_cli_rejects_a_bad_date(tmp_path):
    """A malformed --since is a usage error (exit 2)."""
    result = CliRunner().invoke(cli, ["backfill", "--since", "yesterday"])
    assert result.exit_code == 2


def test_late_events_skip_plans_no_ga4_event_older_than_72_hours(
    hubspot, make_settings, sync_config, clock
):
    """With platforms.ga4.late_events: skip, a 20-day-old deal is not planned for GA4, with why."""
    config = {**sync_config}
    config["platforms"] = {**config["platforms"], "ga4": {**config["platforms"]["ga4"]}}
    config["platforms"]["ga4"]["late_events"] = "skip"
    rt = Runtime.from_settings(make_settings(config))
    try:
        seeder = Seeder(rt)
        contact = hubspot.add_contact({"email": "ann@example.com"})
        vid = seeder.visitor(seeder.person("ann@example.com"), ga_client_id="1.2")
        seeder.touch(vid, NOW - timedelta(days=40), click=("gclid", "G-1"))
        won_deal(hubspot, [contact], close=NOW - timedelta(days=20))
        notes = plan_notes(rt, since_start(date(2026, 1, 1)), NOW)
        assert "late_events is skip" in notes["ga4"]
        _run_id, status = run_backfill(
            rt, since_start(date(2026, 1, 1)), service=Syncer(rt, clock).service()
        )
        assert status == "succeeded"
        assert sorted(r[1] for r in outbox(rt)) == ["google_ads"]
    finally:
        rt.close()
