"""Platform failures are recorded truthfully and shown where people look (sandboxes, real SDKs).

A revoked Google refresh token and a refused Meta token must reach the run (``GET /runs/<id>``),
``closedloop sync``, ``closedloop outbox`` and the dashboard with the platform's reason and its
fix; GA4 failing every send must count as failing; a pass with nothing due proves nothing.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from connector.app import create_app
from connector.cli import cli
from connector.config import load_config
from connector.metrics import exposition
from connector.outbox import DeliverStep, deliver_due
from connector.runs import PARTIAL, RunService, latest_runs
from connector.runtime import Runtime
from connector.storage.models import Conversion, PlatformStatus, utcnow
from platforms import SANDBOXES, load
from platforms.sandbox_kit import Fault, FaultPlan

AUTH = {"Authorization": "Bearer test-trigger-token"}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


IDENTIFIERS = {
    "google_ads": lambda i, now: {
        "gclid": f"Cj0KCQ-sandbox-{i:06d}",
        "click_time": (now - timedelta(days=2)).isoformat(),
        "email_sha256": [_sha(f"buyer{i}@example.com")],
        "consent_ad_user_data": True,
        "consent_ad_personalization": True,
    },
    "ga4": lambda i, now: {"ga_client_id": f"{1000 + i}.1700000000"},
    "meta": lambda i, now: {"email_sha256": [_sha(f"buyer{i}@example.com")]},
}


@pytest.fixture
def sandboxes() -> Iterator[dict[str, Any]]:
    """``sandboxes[name]`` starts that platform's sandbox (stopped after the test)."""
    started: dict[str, Any] = {}

    class Starter(dict):
        def start(self, name: str, faults: FaultPlan | None = None) -> Any:
            started[name] = load(SANDBOXES[name])(faults=faults).start()
            return started[name]

    yield Starter()
    for sandbox in started.values():
        sandbox.stop()


def plan(runtime: Runtime, name: str, count: int) -> None:
    """``count`` sendable conversions for ``name``, won yesterday."""
    now = utcnow()
    with runtime.sessions.begin() as session:
        session.add_all(
            Conversion(
                deal_id=f"{name}-deal-{i}",
                destination=name,
                kind="conversion",
                event_name="purchase",
                dedup_key=f"{name}-deal-{i}-won",
                value=Decimal("100.00"),
                currency="EUR",
                event_time=now - timedelta(days=1),
                identifiers=IDENTIFIERS[name](i, now),
            )
            for i in range(count)
        )


def _status(runtime: Runtime, name: str) -> PlatformStatus | None:
    with runtime.sessions() as session:
        return session.get(PlatformStatus, name)


def _metric(text: str, name: str, platform: str) -> float | None:
    match = re.search(rf'^{name}\{{(?:destination|platform)="{platform}"\}} (\S+)$', text, re.M)
    return float(match.group(1)) if match else None


def test_nothing_due_is_not_a_success(sandboxes, make_settings):
    """A pass that made no call leaves no 'last success' (it proves nothing about GA4)."""
    ga4 = sandboxes.start("ga4")
    runtime = Runtime.from_settings(make_settings({"platforms": {"ga4": ga4.platform_config()}}))
    try:
        deliver_due(runtime)
        status = _status(runtime, "ga4")
        assert status is not None and status.last_attempt_at is not None
        assert status.last_success_at is None and status.last_error is None
        text = exposition(runtime).decode()
        assert _metric(text, "closedloop_platform_last_success_age_seconds", "ga4") is None
        assert _metric(text, "closedloop_platform_error", "ga4") == 0
    finally:
        runtime.close()


def test_ga4_failing_every_send_is_failing(sandboxes, make_settings):
    """GA4 answering 503 to every request: failing with the reason, the run partial."""
    ga4 = sandboxes.start("ga4", FaultPlan(rates={Fault.UNAVAILABLE: 1.0}))
    runtime = Runtime.from_settings(make_settings({"platforms": {"ga4": ga4.platform_config()}}))
    try:
        plan(runtime, "ga4", 3)
        run_id, status = RunService(runtime, steps=[DeliverStep()]).run_now("cli")
        assert status == PARTIAL
        state = _status(runtime, "ga4")
        assert state.last_success_at is None
        assert state.last_error == "HTTP_503: GA4 answered 503 (3 items)"
        text = exposition(runtime).decode()
        assert _metric(text, "closedloop_platform_error", "ga4") == 1
        assert _metric(text, "closedloop_platform_last_error_timestamp_seconds", "ga4")
        app = create_app(runtime=runtime)
        run = app.test_client().get(f"/runs/{run_id}", headers=AUTH).get_json()
        assert run["platform_errors"] == {"ga4": state.last_error}
        assert run["error"] == f"ga4: {state.last_error}"
        # Once GA4 answers again the error clears and a success is recorded.
        ga4.faults = FaultPlan()
        deliver_due(runtime, now=utcnow() + timedelta(hours=1))
        healed = _status(runtime, "ga4")
        assert healed.last_error is None and healed.last_success_at is not None
    finally:
        runtime.close()


def test_due_backlog_has_a_sample_per_destination(sandboxes, make_settings):
    """Rows never tried yet (no next attempt time) are due; an empty backlog is a 0 sample."""
    ga4 = sandboxes.start("ga4")
    meta = sandboxes.start("meta")
    runtime = Runtime.from_settings(
        make_settings({"platforms": {"ga4": ga4.platform_config(), "meta": meta.platform_config()}})
    )
    try:
        plan(runtime, "ga4", 4)
        with runtime.sessions.begin() as session:
            session.query(Conversion).update({"next_attempt_at": None})
        text = exposition(runtime).decode()
        assert _metric(text, "closedloop_conversions_due", "ga4") == 4
        assert _metric(text, "closedloop_conversions_due", "meta") == 0
    finally:
        runtime.close()


def _revoked(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "credentials": {**config["credentials"], "refresh_token": "1//revoked"}}


@pytest.fixture
def refused(sandboxes, db_url, tmp_path) -> tuple[str, Runtime]:
    """Google Ads with a revoked refresh token, Meta with a refused token, rows for both."""
    google = sandboxes.start("google_ads")
    meta = sandboxes.start("meta")
    config = {
        "database": {"url": db_url},
        "server": {"trigger_token": "test-trigger-token"},
        "delivery": {"request_timeout_seconds": 5},
        "dashboard": {"username": "ops", "token": "dash-token-1", "secret_key": "k" * 32},
        "platforms": {
            "google_ads": _revoked(google.platform_config()),
            "meta": {**meta.platform_config(), "access_token": "EAAB-revoked"},
        },
    }
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    runtime = Runtime.from_settings(load_config(path, env={}))
    plan(runtime, "google_ads", 2)
    plan(runtime, "meta", 2)
    yield str(path), runtime
    runtime.close()


def test_refused_tokens_are_shown_with_reason_and_fix(refused):
    """`sync`, `outbox`, GET /runs/<id> and the dashboard all carry each platform's reason."""
    path, runtime = refused
    result = CliRunner().invoke(cli, ["-c", path, "sync", "--once"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("  ")]
    google_line = next(line for line in lines if line.startswith("  google_ads failed: "))
    meta_line = next(line for line in lines if line.startswith("  meta failed: "))
    assert "invalid_grant" in google_line and "platforms.google_ads.credentials" in google_line
    assert "Meta refused the access token" in meta_line
    assert "platforms.meta.access_token" in meta_line
    google = _status(runtime, "google_ads").last_error
    meta = _status(runtime, "meta").last_error
    assert google_line.strip() == f"google_ads failed: {google}"

    listing = CliRunner().invoke(cli, ["-c", path, "outbox"])
    assert listing.exit_code == 0, listing.output
    assert re.search(
        r"^google_ads failing since \S+ \S+ UTC: " + re.escape(google), listing.output, re.M
    )
    assert re.search(r"^meta failing since \S+ \S+ UTC: " + re.escape(meta), listing.output, re.M)

    app = create_app(runtime=runtime)
    client = app.test_client()
    run_id = latest_runs(runtime, 1)[0].id
    run = client.get(f"/runs/{run_id}", headers=AUTH).get_json()
    assert run["status"] == "partial"
    assert run["platform_errors"]["google_ads"] == google
    assert run["platform_errors"]["meta"] == meta

    form = client.get("/dashboard/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    login = client.post(
        "/dashboard/login", data={"csrf": csrf, "username": "ops", "password": "dash-token-1"}
    )
    assert login.status_code == 302
    page = client.get("/dashboard/").get_data(as_text=True)
    found = re.findall(r'class="banner" role="alert" data-platform="(\w+)">(.*?)</p>', page, re.S)
    banners = {name: " ".join(html.unescape(text).split()) for name, text in found}
    assert set(banners) == {"google_ads", "meta"}
    assert google in banners["google_ads"] and meta in banners["meta"]
    assert "wait in the outbox" in banners["meta"]
