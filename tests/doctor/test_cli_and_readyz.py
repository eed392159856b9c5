"""``closedloop doctor`` output and exit codes, ``google-ads conversion-actions``, deep readyz."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from connector.cli import cli

TOKEN = "test-trigger-token"


def _config_file(tmp_path, db_url, platforms):
    path = tmp_path / "closedloop.yaml"
    config = {
        "database": {"url": db_url},
        "server": {"trigger_token": TOKEN},
        "platforms": platforms,
    }
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _all(google, ga4, meta, hubspot):
    return {
        "google_ads": google.platform_config(),
        "ga4": ga4.platform_config(),
        "meta": meta.platform_config(),
        "hubspot": hubspot.platform_config(),
    }


def test_table_lists_every_platform_and_exits_0_when_all_pass(
    google, ga4, meta, hubspot, tmp_path, db_url, runtime
):
    """Every platform's rows with ✓, notes marked ·, summary line, exit code 0."""
    path = _config_file(tmp_path, db_url, _all(google, ga4, meta, hubspot))
    result = CliRunner().invoke(cli, ["-c", path, "doctor"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["check", "found", "what", "to", "do"]
    for row in (
        "store: migrations current",
        "google_ads: conversion action enabled",
        "ga4: validation server accepts a purchase",
        "meta: access token valid",
        "hubspot: deal pipelines readable",
        "store: clock skew",
    ):
        line = next(x for x in lines if x.startswith(row))
        assert line[len(row) :].split()[0] == "✓", line
    assert any(x.startswith("ga4: api_secret") and " · " in x for x in lines)
    assert lines[-1] == "all checks passed"


def test_json_format_and_exit_1_on_a_failed_check(
    google, ga4, meta, hubspot, tmp_path, db_url, runtime
):
    """One ✗ (unaccepted terms) gives exit code 1; --format json carries every row."""
    google.accept_customer_data_terms(False)
    path = _config_file(tmp_path, db_url, _all(google, ga4, meta, hubspot))
    result = CliRunner().invoke(cli, ["-c", path, "doctor", "--format", "json"])
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["status"] == "failed"
    failed = [(c["platform"], c["check"]) for c in body["checks"] if c["status"] == "fail"]
    assert failed == [("google_ads", "customer-data terms accepted")]
    assert set(body["checks"][0]) == {"platform", "check", "status", "detail", "fix"}


def test_table_marks_failures_and_says_what_to_do(meta, tmp_path, db_url, runtime):
    """A ✗ row carries the fix; the summary counts failures."""
    config = meta.platform_config() | {"access_token": "EAAB-wrong"}
    result = CliRunner().invoke(
        cli, ["-c", _config_file(tmp_path, db_url, {"meta": config}), "doctor"]
    )
    assert result.exit_code == 1
    line = next(x for x in result.stdout.splitlines() if x.startswith("meta: access token valid"))
    assert " ✗ " in line and "system-user token" in line
    assert result.stdout.splitlines()[-1] == "1 check(s) failed"


def test_secrets_never_reach_the_output(google, ga4, meta, hubspot, tmp_path, db_url, runtime):
    """No token, secret or refresh token appears in the doctor's output."""
    platforms = _all(google, ga4, meta, hubspot)
    path = _config_file(tmp_path, db_url, platforms)
    output = CliRunner().invoke(cli, ["-c", path, "doctor", "--format", "json"]).output
    for secret in (
        google.refresh_token,
        google.client_secret,
        ga4.api_secret,
        meta.access_token,
        hubspot.access_token,
        hubspot.client_secret,
    ):
        assert secret not in output


def test_conversion_actions_lists_what_the_account_has(google, tmp_path, db_url):
    """GAQL through the SDK: a table with id, name, type, status, click window, counting."""
    google.add_conversion_action("700000002", click_window_days=30)
    google.set_conversion_action("700000002", name="Calls", type="UPLOAD_CALLS", status="HIDDEN")
    path = _config_file(tmp_path, db_url, {"google_ads": google.platform_config()})
    result = CliRunner().invoke(cli, ["-c", path, "google-ads", "conversion-actions"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "type", "status", "click_window_days", "counting"]
    assert lines[2].split() == [
        "700000001", "Offline", "conversion", "700000001", "UPLOAD_CLICKS", "ENABLED", "90",
        "ONE_PER_CLICK",
    ]  # fmt: skip
    assert lines[3].split() == [
        "700000002",
        "Calls",
        "UPLOAD_CALLS",
        "HIDDEN",
        "30",
        "ONE_PER_CLICK",
    ]
    as_json = CliRunner().invoke(
        cli, ["-c", path, "google-ads", "conversion-actions", "--format", "json"]
    )
    assert [a["id"] for a in json.loads(as_json.stdout)] == ["700000001", "700000002"]


def test_conversion_actions_with_refused_credentials_exits_1(google, tmp_path, db_url):
    """A revoked refresh token is reported, exit code 1."""
    config = google.platform_config()
    config["credentials"]["refresh_token"] = "1//revoked"
    path = _config_file(tmp_path, db_url, {"google_ads": config})
    result = CliRunner().invoke(cli, ["-c", path, "google-ads", "conversion-actions"])
    assert result.exit_code == 1 and "refused" in result.output


def test_readyz_deep_needs_the_trigger_token(meta, make_settings, make_app):
    """deep=1 without or with a wrong token is 401; a bad deep value is 400 naming it."""
    client = make_app(make_settings({"platforms": {"meta": meta.platform_config()}})).test_client()
    assert client.get("/readyz?deep=1").status_code == 401
    wrong = client.get("/readyz?deep=1", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    bad = client.get("/readyz?deep=yes", headers={"Authorization": f"Bearer {TOKEN}"})
    assert bad.status_code == 400 and bad.get_json()["detail"][0]["field"] == "deep"
    assert meta.requests == 0


def test_readyz_deep_answers_the_doctor_200_or_503(meta, make_settings, make_app):
    """With the token: 200 and every check when all pass; 503 when one fails."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    healthy = make_app(make_settings({"platforms": {"meta": meta.platform_config()}}))
    answer = healthy.test_client().get("/readyz?deep=1", headers=auth)
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["status"] == "ok"
    assert ("meta", "access token valid") in [(c["platform"], c["check"]) for c in body["checks"]]
    meta.nodes.set_account_status(meta.ad_account_id, 101)
    failing = healthy.test_client().get("/readyz?deep=1", headers=auth)
    assert failing.status_code == 503 and failing.get_json()["status"] == "failed"


def test_plain_readyz_stays_shallow(meta, make_settings, make_app):
    """Without deep (or deep=0) no platform is called and no token is needed."""
    client = make_app(make_settings({"platforms": {"meta": meta.platform_config()}})).test_client()
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/readyz?deep=0").status_code in (200, 503)
    assert meta.requests == 0
