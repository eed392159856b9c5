"""Fixtures for the Microsoft Advertising tests: a sandbox on a fixed clock, settings, rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

import connector.config  # noqa: F401  (loads the registry's settings models in order)
from platforms.base import CONVERSION, ClickId, Identifiers, PlannedConversion
from platforms.microsoft_ads.adapter import MicrosoftAdsDestination
from platforms.microsoft_ads.sandbox import MicrosoftAdsSandbox
from platforms.microsoft_ads.settings import MicrosoftAdsSettings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CLICK = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def now() -> datetime:
    """The fixed 'now' shared by the sandbox clock and ``prepare``."""
    return NOW


@pytest.fixture(scope="module")
def running_sandbox() -> Iterator[MicrosoftAdsSandbox]:
    """One server per module: stopping a werkzeug server costs half a second."""
    with MicrosoftAdsSandbox() as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: MicrosoftAdsSandbox) -> MicrosoftAdsSandbox:
    """The module's sandbox, emptied, on the fixed clock, with no faults."""
    from platforms.sandbox_kit import FaultPlan

    running_sandbox.reset()
    running_sandbox.faults = FaultPlan.none()
    running_sandbox.clock = lambda: NOW
    return running_sandbox


@pytest.fixture
def settings(sandbox: MicrosoftAdsSandbox) -> MicrosoftAdsSettings:
    """``platforms.microsoft_ads`` pointing at the sandbox."""
    return MicrosoftAdsSettings(**sandbox.platform_config())


@pytest.fixture
def destination(settings: MicrosoftAdsSettings) -> Iterator[MicrosoftAdsDestination]:
    """A destination on the sandbox, closed after the test."""
    dest = MicrosoftAdsDestination(settings, timeout=10)
    yield dest
    dest.close()


@pytest.fixture
def make() -> Callable[..., PlannedConversion]:
    """Build a planned row: a conversion a day after an msclkid click two days ago."""

    def build(
        *,
        id: int = 1,
        kind: str = CONVERSION,
        click: str | None = CLICK,
        click_time: datetime | None = NOW - timedelta(days=2),
        event_time: datetime = NOW - timedelta(days=1),
        value: str = "1200.00",
        currency: str = "USD",
        adjusts_key: str | None = None,
        options: dict[str, Any] | None = None,
        **identifiers: Any,
    ) -> PlannedConversion:
        ids = Identifiers(
            click=ClickId("msclkid", click, click_time) if click else None, **identifiers
        )
        return PlannedConversion(
            id=id,
            deal_id=f"deal-{id}",
            destination="microsoft_ads",
            kind=kind,
            event_name="deal_won",
            dedup_key=f"cl-{id}",
            value=Decimal(value),
            currency=currency,
            event_time=event_time,
            identifiers=ids,
            adjusts_key=adjusts_key,
            options=options or {},
        )

    return build
