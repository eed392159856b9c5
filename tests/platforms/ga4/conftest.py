"""GA4 fixtures: a sandbox on a fixed clock, settings pointing at it, a conversion builder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connector.config.models import GA4Settings
from platforms.base import CONVERSION, Identifiers, PlannedConversion
from platforms.ga4.sandbox import GA4Sandbox

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[GA4Sandbox]:
    """A running GA4 sandbox whose clock reads ``NOW``."""
    with GA4Sandbox(clock=lambda: NOW) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[GA4Sandbox]:
    """One sandbox for a module's read-only checks (the validation server stores nothing)."""
    with GA4Sandbox(clock=lambda: NOW) as emulator:
        yield emulator


@pytest.fixture
def ga4_settings(sandbox: GA4Sandbox) -> GA4Settings:
    """``platforms.ga4`` exactly as the sandbox's config section gives it."""
    return GA4Settings.model_validate(sandbox.platform_config())


def make_conversion(
    number: int = 1,
    *,
    client_id: str | None = "111.222",
    session_id: str | None = None,
    age: timedelta = timedelta(hours=1),
    kind: str = CONVERSION,
    value: str = "100.00",
    currency: str = "USD",
    options: dict[str, Any] | None = None,
    **identifiers: Any,
) -> PlannedConversion:
    """A planned GA4 purchase for deal ``number``."""
    return PlannedConversion(
        id=number,
        deal_id=f"deal-{number}",
        destination="ga4",
        kind=kind,
        event_name="purchase",
        dedup_key=f"hubspot-deal-{number}",
        value=Decimal(value),
        currency=currency,
        event_time=NOW - age,
        identifiers=Identifiers(ga_client_id=client_id, ga_session_id=session_id, **identifiers),
        options=options or {},
    )


@pytest.fixture
def conversion() -> Callable[..., PlannedConversion]:
    """Builder of planned conversions (see ``make_conversion``)."""
    return make_conversion
