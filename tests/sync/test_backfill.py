"""Backfill: a replay from a date, planning only what each platform still accepts."""

from __future__ import annotations

from datetime import date, timedelta

import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.sync.backfill import plan_notes, run_backfill, since_start
from tests.sync.conftest import NOW, Syncer, outbox, won_deal


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


def test_cli_prints_the_windows_and_runs(tmp_path, sync_config, db_url):
    """``closedloop backfill --since`` explains the limits on stderr and reports the run."""
    config = {**sync_config, "database": {"url": db_url}, "schedule": {"enabled": False}}
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ["-c", str(path), "backfill", "--since", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert "meta: deals closed after" in result.output
    assert "run 1: succeeded" in result.output


def test_cli_rejects_a_bad_date(tmp_path):
    """A malformed --since is a usage error (exit 2)."""
    result = CliRunner().invoke(cli, ["backfill", "--since", "yesterday"])
    assert result.exit_code == 2
