"""The source's pulls are recorded as platform health, and readiness fails when they stop."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine

from connector.app import create_app
from connector.metrics import exposition
from connector.runtime import Runtime
from connector.scheduler import beat
from connector.storage.models import PlatformStatus, utcnow

# interval 15 min x 2 runs: the source may go 30 minutes without a good pull.
SCHEDULE = {"interval_minutes": 15, "stale_after_runs": 2}


@pytest.fixture
def sync_config(sync_config: dict[str, Any]) -> dict[str, Any]:
    """The sync config with a schedule whose staleness limit is 30 minutes."""
    return {**sync_config, "schedule": SCHEDULE}


def _readyz(runtime: Runtime) -> tuple[int, dict]:
    beat(runtime)  # a live scheduler: only the source decides
    response = create_app(runtime=runtime).test_client().get("/readyz")
    return response.status_code, response.get_json()


def _status(runtime: Runtime) -> PlatformStatus | None:
    with runtime.sessions() as session:
        return session.get(PlatformStatus, "hubspot")


def test_a_rejected_token_is_recorded_and_readiness_fails_after_the_limit(
    sync, sync_runtime, hubspot
):
    """HubSpot answering 401 is HubSpot's last error; past 2 x 15 min /readyz answers 503."""
    hubspot.access_token = "pat-na1-rotated"  # our configured token no longer works
    assert sync() == "failed"
    status = _status(sync_runtime)
    assert status is not None and status.last_success_at is None
    assert "HubSpot rejected the access token" in status.last_error
    assert "platforms.hubspot.access_token" in status.last_error  # the fix, not only the fault
    text = exposition(sync_runtime).decode()
    assert 'closedloop_platform_error{platform="hubspot"} 1.0' in text
    assert 'closedloop_platform_last_error_timestamp_seconds{platform="hubspot"}' in text
    code, body = _readyz(sync_runtime)
    assert code == 200  # 0 min without a pull: within the limit
    assert body["checks"]["platforms"]["hubspot"]["ok"] is False
    assert body["checks"]["platforms"]["hubspot"]["last_error"] == status.last_error
    with time_machine.travel(utcnow() + timedelta(minutes=31), tick=False):
        code, body = _readyz(sync_runtime)
    assert code == 503 and body["status"] == "not_ready"
    assert body["checks"]["source"]["ok"] is False
    assert body["checks"]["source"]["stale_after_seconds"] == 1800.0


def test_a_good_pull_is_a_success_that_ages_into_not_ready(sync, sync_runtime):
    """A successful pull clears the error; 29 min later ready, 31 min later not ready."""
    assert sync() == "succeeded"
    status = _status(sync_runtime)
    assert status is not None and status.last_error is None
    assert status.last_success_at is not None
    text = exposition(sync_runtime).decode()
    assert 'closedloop_platform_error{platform="hubspot"} 0.0' in text
    assert 'closedloop_platform_last_success_timestamp_seconds{platform="hubspot"}' in text
    start = utcnow()
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        code, body = _readyz(sync_runtime)
    assert code == 200 and body["checks"]["source"]["ok"] is True
    assert body["checks"]["platforms"]["hubspot"]["last_success_age_seconds"] >= 29 * 60 - 5
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        code, body = _readyz(sync_runtime)
    assert code == 503 and body["checks"]["source"]["ok"] is False


def test_a_failure_after_a_success_keeps_the_success_time(sync, sync_runtime, hubspot):
    """The last success stays visible next to the new error, which the next success clears."""
    assert sync() == "succeeded"
    first = _status(sync_runtime).last_success_at
    token = hubspot.access_token
    hubspot.access_token = "pat-na1-rotated"
    assert sync() == "failed"
    failed = _status(sync_runtime)
    assert failed.last_success_at == first and failed.last_error is not None
    assert failed.failing_since is not None
    hubspot.access_token = token
    assert sync() == "succeeded"
    healed = _status(sync_runtime)
    assert healed.last_error is None and healed.failing_since is None
