"""Delivery end to end through the real adapters and their sandboxes (real HTTP/gRPC)."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from connector.outbox import DeliverStep, deliver_due
from connector.runs import PARTIAL, RunService, get_run
from connector.runtime import Runtime
from connector.storage.models import Conversion, PlatformStatus, utcnow
from platforms import SANDBOXES, load
from platforms.sandbox_kit import Fault, FaultPlan


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Platform:
    """How to make sendable rows for one platform and read back what its sandbox kept."""

    name: str
    kept_key: str  # the dedup key's field in the sandbox's ``accepted`` records
    identifiers: Callable[[int, datetime], dict[str, Any]]
    min_requests: Callable[[int], int]


PLATFORMS = [
    Platform(
        "google_ads",
        "transaction_id",
        lambda i, now: {
            "gclid": f"Cj0KCQ-sandbox-{i:06d}",
            "click_time": (now - timedelta(days=2)).isoformat(),
            "email_sha256": [_sha(f"buyer{i}@example.com")],
            "consent_ad_user_data": True,
            "consent_ad_personalization": True,
        },
        lambda n: -(-n // 2000),
    ),
    Platform(
        "ga4",
        "transaction_id",
        lambda i, now: {"ga_client_id": f"{1000 + i}.1700000000", "ga_session_id": "1700000000"},
        lambda n: n,  # one client per request
    ),
    Platform(
        "meta",
        "event_id",
        lambda i, now: {"email_sha256": [_sha(f"buyer{i}@example.com")]},
        lambda n: -(-n // 1000),
    ),
]


ALL = [pytest.param(p, id=p.name) for p in PLATFORMS]


@pytest.fixture
def deployment(make_settings) -> Iterator[Callable[..., tuple[Any, Runtime]]]:
    """``deployment(platform, faults, delivery=..., config=...)``: a sandbox and a runtime."""
    started: list[tuple[Any, Runtime]] = []

    def build(
        platform: Platform,
        faults: FaultPlan | None = None,
        *,
        delivery: dict[str, Any] | None = None,
        config: Callable[[dict[str, Any]], dict[str, Any]] = lambda c: c,
        **sandbox_options: Any,
    ) -> tuple[Any, Runtime]:
        sandbox = load(SANDBOXES[platform.name])(faults=faults, **sandbox_options).start()
        settings = make_settings(
            {
                "platforms": {platform.name: config(sandbox.platform_config())},
                "delivery": {"request_timeout_seconds": 5, **(delivery or {})},
            }
        )
        runtime = Runtime.from_settings(settings)
        started.append((sandbox, runtime))
        return sandbox, runtime

    yield build
    for sandbox, runtime in started:
        runtime.close()
        sandbox.stop()


def plan(runtime: Runtime, platform: Platform, count: int, *, prefix: str = "cl-deal") -> list[str]:
    """Insert ``count`` sendable conversions (won yesterday) for ``platform``."""
    now = utcnow()
    keys = [f"{prefix}-{i}-won" for i in range(count)]
    with runtime.sessions.begin() as session:
        session.add_all(
            Conversion(
                deal_id=f"{prefix}-{i}",
                destination=platform.name,
                kind="conversion",
                event_name="purchase",
                dedup_key=key,
                value=Decimal("1250.00"),
                currency="EUR",
                event_time=now - timedelta(days=1),
                identifiers=platform.identifiers(i, now),
                next_attempt_at=now - timedelta(minutes=1),
            )
            for i, key in enumerate(keys)
        )
    return keys


def statuses(runtime: Runtime) -> dict[str, Conversion]:
    with runtime.sessions() as session:
        return {r.dedup_key: r for r in session.scalars(select(Conversion))}


def kept(sandbox: Any, platform: Platform) -> list[str]:
    return [str(record[platform.kept_key]) for record in sandbox.accepted]


@pytest.mark.parametrize("platform", ALL)
def test_every_planned_conversion_is_accepted_once(deployment, platform):
    """All planned conversions reach the platform exactly once, in the fewest requests."""
    sandbox, runtime = deployment(platform)
    keys = plan(runtime, platform, 120)
    summary = deliver_due(runtime)
    assert summary.platforms[platform.name].error is None, summary.platforms[platform.name]
    assert sorted(kept(sandbox, platform)) == sorted(keys)
    assert {r.status for r in statuses(runtime).values()} == {"accepted"}
    assert summary.platforms[platform.name].requests == 1 if platform.name != "ga4" else True
    with runtime.sessions() as session:
        status = session.get(PlatformStatus, platform.name)
    assert status.last_success_at is not None and status.last_error is None
    deliver_due(runtime)  # nothing due: no resend
    assert sorted(kept(sandbox, platform)) == sorted(keys)


@pytest.mark.parametrize("platform", ALL)
def test_twenty_percent_faults_still_deliver_exactly_once(deployment, platform):
    """429/5xx/timeouts/drops/lost answers on 20 % of requests: each conversion kept once."""
    faults = FaultPlan(
        rates={
            Fault.RATE_LIMIT: 0.04,
            Fault.SERVER_ERROR: 0.03,
            Fault.UNAVAILABLE: 0.03,
            Fault.TIMEOUT: 0.03,
            Fault.DROP: 0.03,
            Fault.LOST_RESPONSE: 0.04,
        },
        seed=20,
        retry_after_seconds=1,
        timeout_seconds=1.5,
    )
    sandbox, runtime = deployment(
        platform, faults, delivery={"request_timeout_seconds": 0.5, "max_attempts": 30}
    )
    keys = plan(runtime, platform, 60)
    clock = utcnow()
    for _ in range(40):
        deliver_due(runtime, now=clock)
        if all(r.status == "accepted" for r in statuses(runtime).values()):
            break
        clock += timedelta(hours=1)
    assert {r.status for r in statuses(runtime).values()} == {"accepted"}
    kept_keys = kept(sandbox, platform)
    assert sorted(kept_keys) == sorted(keys) and len(kept_keys) == len(set(kept_keys))


@pytest.mark.parametrize("platform", ALL)
def test_dry_run_sends_nothing_real(deployment, platform):
    """A dry run uses validate-only modes: the sandbox keeps nothing and no row changes.

    (Meta validates only with a configured test_event_code: see tests/sync/test_dry_run.py.)
    """
    test_code = {"test_event_code": "TEST123"} if platform.name == "meta" else {}
    sandbox, runtime = deployment(platform, config=lambda c: {**c, **test_code})
    plan(runtime, platform, 5)
    before = {k: (r.status, r.attempts, r.next_attempt_at) for k, r in statuses(runtime).items()}
    summary = deliver_due(runtime, dry_run=True)
    figures = summary.platforms[platform.name].as_dict()
    assert figures["dry_run"] is True and figures["accepted"] == 5, figures
    assert sandbox.accepted == []
    after = {k: (r.status, r.attempts, r.next_attempt_at) for k, r in statuses(runtime).items()}
    assert after == before


def _revoked_refresh_token(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, "credentials": {**config["credentials"], "refresh_token": "1//revoked"}}


REFUSALS: dict[str, tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "google_ads": ({}, _revoked_refresh_token),
    "meta": ({}, lambda config: {**config, "access_token": "EAAB-revoked"}),
}


# GA4's Measurement Protocol answers 2xx even to a wrong api_secret: it has no refusal to test.
@pytest.mark.parametrize("platform", [p for p in ALL if p.values[0].name in REFUSALS])
def test_a_refused_account_pauses_the_platform_with_one_error(deployment, platform):
    """Not allowlisted / bad token: rows stay pending, one request, the run fails once."""
    sandbox_options, break_config = REFUSALS[platform.name]
    sandbox, runtime = deployment(platform, config=break_config, **sandbox_options)
    plan(runtime, platform, 30)
    run_id, status = RunService(runtime, steps=[DeliverStep()]).run_now("cli")
    assert status == PARTIAL
    assert {(r.status, r.attempts) for r in statuses(runtime).values()} == {("pending", 0)}
    run = get_run(runtime, run_id)
    error = run.summary[platform.name]["error"]
    assert error and run.summary[platform.name]["requests"] == 1
    with runtime.sessions() as session:
        assert session.get(PlatformStatus, platform.name).last_error == error
    assert sandbox.accepted == []


def test_google_not_allowlisted_is_one_clear_error_not_dead_letters(deployment):
    """CUSTOMER_NOT_ALLOWLISTED pauses Google Ads with one error; no row becomes a dead letter."""
    google = PLATFORMS[0]
    _sandbox, runtime = deployment(google, api="google_ads", allowlisted=False)
    plan(runtime, google, 30)
    run_id, status = RunService(runtime, steps=[DeliverStep()]).run_now("cli")
    assert status == PARTIAL
    assert {(r.status, r.attempts) for r in statuses(runtime).values()} == {("pending", 0)}
    error = get_run(runtime, run_id).summary["google_ads"]["error"]
    assert "NOT_ALLOWLISTED" in error.upper() and "Data Manager" in error


def _rows_with(runtime: Runtime, platform: Platform, key: str, **changes: Any) -> None:
    now = utcnow()
    row = dict(
        deal_id=key,
        destination=platform.name,
        kind="conversion",
        event_name="purchase",
        dedup_key=key,
        value=Decimal("10"),
        currency="EUR",
        event_time=now - timedelta(days=1),
        identifiers=platform.identifiers(0, now),
        next_attempt_at=now - timedelta(minutes=1),
    )
    row.update(changes)
    with runtime.sessions.begin() as session:
        session.add(Conversion(**row))


SKIPS: dict[str, Callable[[datetime], dict[str, Any]]] = {
    "meta": lambda now: {"event_time": now - timedelta(days=8)},
    "ga4": lambda now: {"identifiers": {}},
    "google_ads": lambda now: {
        "identifiers": {
            "gclid": "Cj0KCQ-old",
            "click_time": (now - timedelta(days=120)).isoformat(),
        },
        "event_time": now - timedelta(days=1),
    },
}


@pytest.mark.parametrize("platform", ALL)
def test_a_skip_carries_the_platforms_reason(deployment, platform):
    """A conversion the platform could never take is skipped with a code and a reason."""
    sandbox, runtime = deployment(platform)
    _rows_with(runtime, platform, "cl-skip-1", **SKIPS[platform.name](utcnow()))
    summary = deliver_due(runtime)
    row = statuses(runtime)["cl-skip-1"]
    assert row.status == "skipped" and row.reason_code and row.reason
    assert summary.platforms[platform.name].as_dict()["reasons"]["skipped"] == {row.reason_code: 1}
    assert sandbox.accepted == []


@pytest.mark.parametrize("platform", [p for p in ALL if p.id == "google_ads"])
def test_a_click_younger_than_six_hours_waits_without_an_attempt(deployment, platform):
    """Google's 6-hour minimum click age: the row waits until then, attempts unchanged."""
    sandbox, runtime = deployment(platform)
    click = utcnow() - timedelta(hours=1)
    identifiers = {**platform.identifiers(0, utcnow()), "click_time": click.isoformat()}
    _rows_with(runtime, platform, "cl-young-1", identifiers=identifiers, event_time=utcnow())
    summary = deliver_due(runtime)
    row = statuses(runtime)["cl-young-1"]
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at >= click + timedelta(hours=6) - timedelta(seconds=1)
    assert summary.platforms["google_ads"].counts["waiting"] == 1
    assert sandbox.accepted == []


WORKER = """
import json, sys
from connector.config import parse_config
from connector.outbox import deliver_due
from connector.runtime import Runtime
runtime = Runtime.from_settings(parse_config(json.loads(sys.argv[1]), env={}), upgrade=False)
print("ready", flush=True)
while True:
    deliver_due(runtime)
"""


@pytest.mark.parametrize("platform", ALL)
def test_kill_9_at_random_points_then_restart_loses_and_doubles_nothing(
    deployment, db_url, platform
):
    """SIGKILL the delivery worker mid-flight three times, restart: each conversion kept once."""
    faults = FaultPlan(latency_seconds=0.05)
    sandbox, runtime = deployment(platform, faults, delivery={"claim_seconds": 30})
    keys = plan(runtime, platform, 300)
    tree = {
        "database": {"url": db_url},
        "platforms": {platform.name: sandbox.platform_config()},
        "delivery": {"claim_seconds": 30},
    }
    rng = random.Random(platform.name)
    for _ in range(3):
        with subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(tree)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        ) as proc:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.02, 0.5))  # a random point in delivery, not a timing
            proc.kill()
            proc.wait(10)
    later = utcnow() + timedelta(minutes=10)  # the dead workers' claims have expired
    for step in range(4):
        deliver_due(runtime, now=later + timedelta(hours=step))
    assert {r.status for r in statuses(runtime).values()} == {"accepted"}
    kept_keys = kept(sandbox, platform)
    assert sorted(kept_keys) == sorted(keys) and len(kept_keys) == len(set(kept_keys))
