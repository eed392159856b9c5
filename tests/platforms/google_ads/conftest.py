"""Fixtures for the Google Ads tests: a sandbox on a fixed clock, SDK clients, factories."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.ads import datamanager_v1 as dm
from google.api_core.client_options import ClientOptions
from google.oauth2.credentials import Credentials

from connector.config.models import GoogleAdsSettings
from platforms.base import Identifiers, PlannedConversion
from platforms.google_ads.adapter import GoogleAdsDestination
from platforms.google_ads.sandbox import DATAMANAGER_SCOPE, GoogleAdsSandbox
from platforms.sandbox_kit.tls import shared_certificate

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EMAIL_HASH = hashlib.sha256(b"buyer@example.com").hexdigest()
PHONE_HASH = hashlib.sha256(b"+14155550123").hexdigest()

# gRPC reads its trusted roots once per process: set them before any channel exists.
shared_certificate()


@pytest.fixture
def now() -> datetime:
    """The fixed 'now' shared by the sandbox clock and ``prepare``."""
    return NOW


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Constructor options for the sandbox; tests override this fixture's result."""
    return {}


@pytest.fixture
def sandbox(sandbox_options: dict[str, Any]) -> Iterator[GoogleAdsSandbox]:
    """A running Google Ads sandbox whose clock is ``NOW``."""
    options = {"clock": lambda: NOW, **sandbox_options}
    with GoogleAdsSandbox(**options) as running:
        yield running


@pytest.fixture
def ads_settings(sandbox: GoogleAdsSandbox) -> GoogleAdsSettings:
    """``platforms.google_ads`` pointing at the sandbox, as the config loader builds it."""
    return GoogleAdsSettings.model_validate(sandbox.platform_config())


@pytest.fixture
def make_destination(
    ads_settings: GoogleAdsSettings,
) -> Iterator[Callable[..., GoogleAdsDestination]]:
    """Build adapters on the sandbox settings (overrides as keyword arguments); all closed."""
    made: list[GoogleAdsDestination] = []

    def build(*, dry_run: bool = False, timeout: float = 10.0, **overrides: Any):
        settings = ads_settings.model_copy(update=overrides) if overrides else ads_settings
        destination = GoogleAdsDestination(settings, dry_run=dry_run, timeout=timeout)
        destination.setup()
        made.append(destination)
        return destination

    yield build
    for destination in made:
        destination.close()


@pytest.fixture
def make_conversion() -> Callable[..., PlannedConversion]:
    """A planned Google Ads conversion: a gclid clicked two days before ``NOW``."""
    counter = iter(range(1, 1_000_000))

    def build(**changes: Any) -> PlannedConversion:
        number = next(counter)
        identifiers = changes.pop("identifiers", None) or Identifiers(
            gclid=f"gclid-{number}", click_time=NOW - timedelta(days=2)
        )
        fields: dict[str, Any] = {
            "id": number,
            "deal_id": f"deal-{number}",
            "destination": "google_ads",
            "kind": "conversion",
            "event_name": "purchase",
            "dedup_key": f"deal-{number}-won",
            "value": Decimal("120.50"),
            "currency": "USD",
            "event_time": NOW - timedelta(days=1),
            "identifiers": identifiers,
            **changes,
        }
        return PlannedConversion(**fields)

    return build


@pytest.fixture
def make_client(sandbox: GoogleAdsSandbox) -> Iterator[Callable[..., dm.IngestionServiceClient]]:
    """Build unmodified SDK clients on the sandbox (scopes or a fixed token); all closed."""
    made: list[dm.IngestionServiceClient] = []

    def build(scopes: list[str] | None = None, token: str | None = None):
        client = _datamanager_client(sandbox, scopes or [DATAMANAGER_SCOPE], token)
        made.append(client)
        return client

    yield build
    for client in made:
        client.transport.close()


@pytest.fixture
def dm_client(make_client: Callable[..., dm.IngestionServiceClient]) -> dm.IngestionServiceClient:
    """The unmodified Data Manager SDK client, authorised with the datamanager scope."""
    return make_client()


def _datamanager_client(
    sandbox: GoogleAdsSandbox, scopes: list[str], token: str | None = None
) -> dm.IngestionServiceClient:
    """An SDK client on the sandbox with refresh-token credentials (or a fixed token)."""
    if token is not None:
        credentials = Credentials(token=token)
    else:
        credentials = Credentials(
            token=None,
            refresh_token=sandbox.refresh_token,
            client_id=sandbox.client_id,
            client_secret=sandbox.client_secret,
            token_uri=sandbox.token_endpoint.token_uri,
            scopes=scopes,
        )
    return dm.IngestionServiceClient(
        credentials=credentials,
        transport="grpc",
        client_options=ClientOptions(api_endpoint=sandbox.datamanager.endpoint),
    )


@pytest.fixture
def make_event() -> Callable[..., dm.Event]:
    """A valid Data Manager event (gclid, value, a day before ``NOW``); fields overridable."""
    counter = iter(range(1, 1_000_000))

    def build(**fields: Any) -> dm.Event:
        number = next(counter)
        values: dict[str, Any] = {
            "transaction_id": f"tx-{number}",
            "event_timestamp": NOW - timedelta(days=1),
            "ad_identifiers": dm.AdIdentifiers(gclid=f"gclid-{number}"),
            "conversion_value": 99.0,
            "currency": "USD",
            **fields,
        }
        return dm.Event(**{k: v for k, v in values.items() if v is not None})

    return build


@pytest.fixture
def make_request(sandbox: GoogleAdsSandbox) -> Callable[..., dm.IngestEventsRequest]:
    """An IngestEventsRequest to the sandbox customer's conversion action."""

    def build(events: list[dm.Event], **fields: Any) -> dm.IngestEventsRequest:
        values: dict[str, Any] = {
            "destinations": [_destination(sandbox)],
            "events": events,
            "encoding": dm.Encoding.HEX,
            **fields,
        }
        return dm.IngestEventsRequest(**values)

    return build


@pytest.fixture
def make_destination_pb(sandbox: GoogleAdsSandbox) -> Callable[..., dm.Destination]:
    """A GOOGLE_ADS ``Destination`` message (defaults: the sandbox customer and action)."""

    def build(**fields: Any) -> dm.Destination:
        return _destination(sandbox, **fields)

    return build


def _destination(
    sandbox: GoogleAdsSandbox,
    *,
    account_id: str | None = None,
    action_id: str | None = None,
    reference: str = "",
) -> dm.Destination:
    """A GOOGLE_ADS destination (defaults: the sandbox customer and conversion action)."""
    return dm.Destination(
        reference=reference,
        operating_account=dm.ProductAccount(
            account_id=account_id or sandbox.customer_id,
            account_type=dm.ProductAccount.AccountType.GOOGLE_ADS,
        ),
        product_destination_id=action_id or sandbox.conversion_action_id,
    )
