"""The HubSpot client stays under the limits, retries a little, then hands over to the run."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.config.models import HubSpotSettings
from connector.errors import PermanentSourceError, RetryableSourceError
from connector.mapping import MappingProfile
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource
from platforms.sandbox_kit import Fault, FaultPlan


def test_a_burst_stays_under_the_10_second_budget(
    clock, data_clock, make_source: Callable[..., HubSpotSource]
) -> None:
    """35 calls on a 10-per-10s token all succeed: the throttle waits, HubSpot never says 429."""
    with HubSpotSandbox(requests_per_10s=10, now=data_clock, monotonic=clock.monotonic) as box:
        source = make_source(box=box, requests_per_10s=10)
        start = clock.now
        for _ in range(35):
            source.pipelines()
        assert box.rejected == []
        assert box.requests == 35
        assert clock.now - start >= 30.0  # 3 full windows waited, not slept in real time


def test_searches_stay_under_5_per_second(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource], clock
) -> None:
    """12 contact lookups in a row meet no SECONDLY 429: the search budget spaces them."""
    for i in range(12):
        sandbox.add_contact({"email": f"c{i}@example.com"})
    source = make_source()
    start = clock.now
    for i in range(12):
        source.upsert_contact(f"c{i}@example.com", None, {})
    assert sandbox.rejected == []
    assert sandbox.requests_by_endpoint["POST /crm/v3/objects/contacts/search"] == 12
    assert clock.now - start >= 2.0


def test_without_the_throttle_the_sandbox_does_say_429(
    clock, data_clock, make_source: Callable[..., HubSpotSource]
) -> None:
    """Control: a client that believes it may send 50 per 10 s is told 429, then gives up."""
    with HubSpotSandbox(requests_per_10s=10, now=data_clock, monotonic=clock.monotonic) as box:
        source = make_source(box=box, requests_per_10s=50)
        for _ in range(10):
            source.pipelines()
        source.client.max_attempts = 1
        with pytest.raises(RetryableSourceError) as caught:
            source.pipelines()
        assert caught.value.retry_after == 10.0  # the TEN_SECONDLY_ROLLING window
        assert box.rejected[-1]["policyName"] == "TEN_SECONDLY_ROLLING"


def test_a_429_is_retried_after_the_policy_window(
    clock, data_clock, make_source: Callable[..., HubSpotSource]
) -> None:
    """One injected 429 costs one 10 s pause and one extra request, then the call succeeds."""
    plan = FaultPlan(script={1: Fault.RATE_LIMIT})
    with HubSpotSandbox(plan, now=data_clock, monotonic=clock.monotonic) as box:
        source = make_source(box=box)
        assert source.pipelines()[0].id == "default"
        assert source.requests_made == 2
        assert 10.0 in clock.slept


def test_repeated_5xx_becomes_a_retryable_source_error(
    clock, data_clock, make_source: Callable[..., HubSpotSource]
) -> None:
    """Four 503s in a row: bounded retries with backoff, then RetryableSourceError."""
    plan = FaultPlan(script={n: Fault.UNAVAILABLE for n in range(1, 5)})
    with HubSpotSandbox(plan, now=data_clock, monotonic=clock.monotonic) as box:
        source = make_source(box=box)
        with pytest.raises(RetryableSourceError, match="503") as caught:
            source.pipelines()
        assert caught.value.retry_after is not None and caught.value.retry_after > 0
        assert source.requests_made == 4
        assert clock.slept == [1.0, 2.0, 4.0]
        assert source.pipelines()[0].id == "default"  # the fifth request is fine


def test_dropped_connections_and_timeouts_are_retried(
    clock, data_clock, make_source: Callable[..., HubSpotSource]
) -> None:
    """A dropped connection and a hung request are retried; the third attempt answers."""
    plan = FaultPlan(script={1: Fault.DROP, 2: Fault.TIMEOUT}, timeout_seconds=1.0)
    with HubSpotSandbox(plan, now=data_clock, monotonic=clock.monotonic) as box:
        settings = HubSpotSettings(**box.platform_config())
        source = HubSpotSource(
            settings, MappingProfile(), timeout=0.3, clock=clock.monotonic, sleep=clock.sleep
        )
        assert source.pipelines()[0].id == "default"
        assert source.requests_made == 3


def test_a_bad_token_is_a_permanent_error_that_says_so(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """401 is not retried; the message points at the access token, without revealing it."""
    source = make_source(access_token="pat-na1-wrong-token")
    with pytest.raises(PermanentSourceError, match="access_token") as caught:
        list(source.deals_changed_since(None))
    assert "pat-na1-wrong-token" not in str(caught.value)
    assert source.requests_made == 1
