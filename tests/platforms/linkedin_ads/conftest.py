"""Fixtures for the LinkedIn tests: a Rest.li sandbox on a fixed clock, settings, factories."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connector.config.models import LinkedInAdsSettings
from platforms.base import ClickId, Identifiers, PlannedConversion
from platforms.linkedin_ads.sandbox import LinkedInAdsSandbox

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
#: ``printf 'buyer@example.com' | sha256sum``: computed outside the code under test.
EMAIL_HASH = "6a6c26195c3682faa816966af789717c3bfa834eee6c599d667d2b3429c27cfd"
LI_FAT_ID = "5a9c7d2e-3f41-4b8a-9e06-1c2d3e4f5a6b"


@pytest.fixture
def now() -> datetime:
    """The fixed 'now' shared by the sandbox clock and ``prepare``."""
    return NOW


@pytest.fixture
def clock() -> dict[str, datetime]:
    """A mutable clock the sandbox reads; tests move ``clock['now']``."""
    return {"now": NOW}


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[LinkedInAdsSandbox]:
    """One server per module: stopping a werkzeug server costs half a second."""
    with LinkedInAdsSandbox() as running:
        yield running  # type: ignore[misc]


@pytest.fixture
def sandbox(running_sandbox: LinkedInAdsSandbox, clock: dict[str, datetime]) -> LinkedInAdsSandbox:
    """The module's sandbox, emptied, on this test's clock, without faults."""
    running_sandbox.reset()
    running_sandbox.faults = type(running_sandbox.faults).none()
    running_sandbox.clock = lambda: clock["now"]
    return running_sandbox


@pytest.fixture
def li_settings(sandbox: LinkedInAdsSandbox) -> LinkedInAdsSettings:
    """``platforms.linkedin_ads`` settings pointing at the sandbox."""
    return LinkedInAdsSettings(**sandbox.platform_config())


@pytest.fixture
def make_conversion(now: datetime) -> Callable[..., PlannedConversion]:
    """A planned LinkedIn conversion closed an hour ago, with a hashed email and a click."""
    counter = iter(range(1, 1_000_000))

    def build(**overrides: Any) -> PlannedConversion:
        number = next(counter)
        identifiers = overrides.pop(
            "identifiers",
            Identifiers(
                email_sha256=(EMAIL_HASH,),
                click=ClickId("li_fat_id", LI_FAT_ID, now - timedelta(days=3)),
            ),
        )
        fields: dict[str, Any] = {
            "id": number,
            "deal_id": f"deal-{number}",
            "destination": "linkedin_ads",
            "kind": "conversion",
            "event_name": "closed_won",
            "dedup_key": f"cl-deal-{number}-closed_won",
            "value": Decimal("1500.50"),
            "currency": "USD",
            "event_time": now - timedelta(hours=1),
            "identifiers": identifiers,
        }
        fields.update(overrides)
        return PlannedConversion(**fields)

    return build
