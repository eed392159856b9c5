"""``closedloop outbox`` list/retry and ``GET /metrics`` read the real outbox."""

from __future__ import annotations

from datetime import timedelta

import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.outbox import deliver_due
from connector.storage.models import PlatformStatus


def _config(tmp_path, db_url):
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}}))
    return str(path)


def _stuck_outbox(add_rows, now):
    add_rows(
        2,
        prefix="dead",
        destination="meta",
        status="dead",
        reason_code="HTTP_503",
        reason="Service unavailable",
    )
    add_rows(1, prefix="deadga", destination="ga4", status="dead", reason_code="TIMEOUT")
    add_rows(
        1,
        prefix="rej",
        destination="meta",
        status="rejected",
        reason_code="BAD_HASH",
        reason="em is not a SHA-256 hash",
    )
    add_rows(3, prefix="ok", destination="meta", status="accepted")


def test_outbox_lists_stuck_rows_by_platform_and_reason(tmp_path, db_url, add_rows, now):
    """The default command shows pending/dead/rejected counts per platform and reason code."""
    _stuck_outbox(add_rows, now)
    result = CliRunner().invoke(cli, ["-c", _config(tmp_path, db_url), "outbox"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["PLATFORM", "STATUS", "REASON", "COUNT"]
    rows = {tuple(line.split()[:4]) for line in lines[1:]}
    assert rows == {
        ("ga4", "dead", "TIMEOUT", "1"),
        ("meta", "dead", "HTTP_503", "2"),
        ("meta", "rejected", "BAD_HASH", "1"),
    }


def test_outbox_retry_requeues_dead_letters_by_platform_and_reason(
    tmp_path, db_url, add_rows, rows, now
):
    """Retry --platform/--reason re-queues only matching dead letters; rejected need a flag."""
    _stuck_outbox(add_rows, now)
    config = _config(tmp_path, db_url)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["-c", config, "outbox", "retry", "--platform", "meta", "--reason", "HTTP_503"]
    )
    assert result.exit_code == 0 and "re-queued 2 dead conversions" in result.output
    stored = rows()
    assert [stored[k].status for k in ("dead0", "dead1")] == ["pending", "pending"]
    assert (stored["dead0"].attempts, stored["dead0"].claimed_by) == (0, None)
    assert stored["deadga0"].status == "dead" and stored["rej0"].status == "rejected"
    result = runner.invoke(cli, ["-c", config, "outbox", "retry", "--include-rejected"])
    assert "re-queued 2 dead or rejected conversions" in result.output
    assert {r.status for r in rows().values()} == {"pending", "accepted"}


def test_outbox_rejects_an_unknown_platform_with_exit_2(tmp_path, db_url):
    """A typo in --platform is a usage error (exit code 2), not an empty answer."""
    result = CliRunner().invoke(
        cli, ["-c", _config(tmp_path, db_url), "outbox", "retry", "--platform", "metta"]
    )
    assert result.exit_code == 2


def test_metrics_expose_outbox_runs_and_platforms(
    client, runtime, add_rows, emulator, make_destination, now
):
    """/metrics reports rows by status, dead letters, the last run and platform health."""
    from connector.outbox import DeliverStep
    from connector.runs import RunService

    add_rows(3)
    add_rows(1, prefix="x", status="dead", reason_code="HTTP_500")
    RunService(runtime, steps=[DeliverStep(adapters={"tiny": make_destination(emulator)})]).run_now(
        "cli"
    )
    with runtime.sessions.begin() as session:
        session.get(PlatformStatus, "tiny").last_success_at -= timedelta(minutes=1)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    assert 'closedloop_conversions{destination="tiny",status="accepted"} 3.0' in text
    assert 'closedloop_dead_letters{destination="tiny"} 1.0' in text
    assert 'closedloop_last_run_status{status="succeeded"} 1.0' in text
    assert 'closedloop_last_run_conversions{outcome="accepted",platform="tiny"} 3.0' in text
    assert 'closedloop_platform_error{platform="tiny"} 0.0' in text
    age = next(
        line
        for line in text.splitlines()
        if line.startswith('closedloop_platform_last_success_age_seconds{platform="tiny"}')
    )
    assert 60 <= float(age.split()[-1]) < 3600
    assert "closedloop_last_run_duration_seconds" in text


def test_metrics_count_paused_platforms_as_errors(
    client, runtime, add_rows, emulator, make_destination, now
):
    """A platform stopped by a permanent error shows closedloop_platform_error 1."""
    add_rows(1)
    deliver_due(runtime, now=now, adapters={"tiny": make_destination(emulator, token="nope")})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'closedloop_platform_error{platform="tiny"} 1.0' in text
    assert 'closedloop_conversions{destination="tiny",status="pending"} 1.0' in text


def test_outbox_lists_rows_awaiting_a_verdict_and_metrics_count_them(
    tmp_path, db_url, add_rows, runtime, now
):
    """Handed-over rows (``confirming``) are open: the default list and the gauge show them."""
    from connector.metrics import DatabaseCollector

    add_rows(2, prefix="wait", destination="google_ads", status="confirming", platform_ref="r1")
    add_rows(1, prefix="done", destination="google_ads", status="accepted")
    result = CliRunner().invoke(cli, ["-c", _config(tmp_path, db_url), "outbox"])
    assert result.exit_code == 0, result.output
    rows = {tuple(line.split()[:4]) for line in result.output.splitlines()[1:]}
    assert rows == {("google_ads", "confirming", "-", "2")}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in DatabaseCollector(runtime, now=now).collect()
        for s in family.samples
    }
    key = ("closedloop_conversions", (("destination", "google_ads"), ("status", "confirming")))
    assert samples[key] == 2
