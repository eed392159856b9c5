"""Fixtures for the Meta tests: a sandbox on a fixed clock, settings, SDK helpers, factories."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from facebook_business.adobjects.adspixel import AdsPixel
from facebook_business.api import FacebookAdsApi

from connector.config.models import MetaSettings
from platforms.base import Identifiers, PlannedConversion
from platforms.meta.client import build_api
from platforms.meta.sandbox import MetaSandbox

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EMAIL_HASH = hashlib.sha256(b"buyer@example.com").hexdigest()


@pytest.fixture
def now() -> datetime:
    """The fixed 'now' shared by the sandbox clock and ``prepare``."""
    return NOW


@pytest.fixture
def email_hash() -> str:
    """SHA-256 hex of a normalised email, as connector.identity produces it."""
    return EMAIL_HASH


@pytest.fixture
def clock() -> dict[str, datetime]:
    """A mutable clock the sandbox reads; tests move ``clock['now']`` forward."""
    return {"now": NOW}


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[MetaSandbox]:
    """One server per module: stopping a werkzeug server costs half a second."""
    with MetaSandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: MetaSandbox, clock: dict[str, datetime]) -> MetaSandbox:
    """The module's Graph sandbox, emptied, on this test's injected clock."""
    running_sandbox.reset()
    running_sandbox.clock = lambda: clock["now"]
    return running_sandbox


@pytest.fixture
def meta_settings(sandbox: MetaSandbox) -> MetaSettings:
    """``platforms.meta`` settings pointing at the sandbox."""
    return MetaSettings(**sandbox.platform_config())


@pytest.fixture
def graph_api(meta_settings: MetaSettings) -> FacebookAdsApi:
    """The SDK's API instance as closedloop builds it, for talking to the sandbox directly."""
    return build_api(meta_settings, timeout=10)


@pytest.fixture
def make_event(now: datetime) -> Callable[..., dict[str, Any]]:
    """A valid server event as raw JSON (Graph's wire form), with overrides."""

    def build(**overrides: Any) -> dict[str, Any]:
        event: dict[str, Any] = {
            "event_name": "Purchase",
            "event_time": int((now - timedelta(hours=1)).timestamp()),
            "event_id": "deal-1",
            "action_source": "system_generated",
            "user_data": {"em": [EMAIL_HASH]},
            "custom_data": {"value": 120.5, "currency": "USD"},
        }
        event.update(overrides)
        return {k: v for k, v in event.items() if v is not None}

    return build


@pytest.fixture
def post_events(graph_api: FacebookAdsApi, sandbox: MetaSandbox) -> Callable[..., Any]:
    """POST raw events through the SDK's AdsPixel edge (the call EventRequest makes).

    Raw events bypass the SDK's own hashing so the sandbox's checks can be hit directly.
    """

    def post(events: list[dict[str, Any]], **params: Any) -> Any:
        pixel = AdsPixel(sandbox.pixel_id, api=graph_api)
        body = {"data": [json.dumps(e) for e in events], **params}
        return pixel.create_event(fields=[], params=body)

    return post


@pytest.fixture
def make_conversion(now: datetime) -> Callable[..., PlannedConversion]:
    """A planned Meta conversion closed an hour ago, with a hashed email."""
    counter = iter(range(1, 1_000_000))

    def build(**overrides: Any) -> PlannedConversion:
        number = next(counter)
        identifiers = overrides.pop("identifiers", Identifiers(email_sha256=(EMAIL_HASH,)))
        fields: dict[str, Any] = {
            "id": number,
            "deal_id": f"deal-{number}",
            "destination": "meta",
            "kind": "conversion",
            "event_name": "Purchase",
            "dedup_key": f"cl-deal-{number}",
            "value": Decimal("120.50"),
            "currency": "USD",
            "event_time": now - timedelta(hours=1),
            "identifiers": identifiers,
        }
        fields.update(overrides)
        return PlannedConversion(**fields)

    return build
