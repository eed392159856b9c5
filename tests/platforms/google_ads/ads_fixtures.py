"""Fixtures and helpers for the Google Ads API tests: the emulator, the SDK, planned rows.

Test modules import the fixtures they use from here (the folder's conftest belongs to the
Data Manager tests).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException

from connector.config.models import GoogleAdsSettings
from platforms.base import Identifiers, PlannedConversion
from platforms.google_ads.ads_api import error_code
from platforms.google_ads.ads_client import build_ads_client, conversion_action_name
from platforms.google_ads.sandbox.ads import GoogleAdsApiServer
from platforms.sandbox_kit import FaultPlan
from platforms.sandbox_kit.tls import shared_certificate

# gRPC reads its trusted roots once per process: set them before any channel exists.
shared_certificate()

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CUSTOMER = "1234567890"
ACTION = "700000002"
ACTION_NAME = conversion_action_name(CUSTOMER, ACTION)
DEVELOPER_TOKEN = "sandbox-developer-token"
EMAIL_HASH = hashlib.sha256(b"buyer@example.com").hexdigest()
PHONE_HASH = hashlib.sha256(b"+14155550123").hexdigest()


@dataclass
class Clock:
    """A settable "now" shared by the emulator and the uploader."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


def stamp(moment: datetime) -> str:
    """Google's ``yyyy-mm-dd hh:mm:ss+hh:mm`` for a UTC moment."""
    return moment.strftime("%Y-%m-%d %H:%M:%S+00:00")


@pytest.fixture
def clock() -> Clock:
    """The emulator's and uploader's now, starting at ``NOW``."""
    return Clock()


@pytest.fixture
def faults() -> FaultPlan:
    """No faults; tests that need some override this fixture."""
    return FaultPlan.none()


@pytest.fixture
def ads_server(clock: Clock, faults: FaultPlan) -> Iterator[GoogleAdsApiServer]:
    """A running emulator with one allowlisted customer and one conversion action."""
    with GoogleAdsApiServer(faults, clock=clock) as server:
        server.add_customer(CUSTOMER, allowlisted=True, currency="EUR", name="Shop")
        server.add_conversion_action(CUSTOMER, ACTION, click_window_days=30)
        yield server


@pytest.fixture
def api_settings(ads_server: GoogleAdsApiServer) -> GoogleAdsSettings:
    """``platforms.google_ads`` for the Google Ads API path, pointing at the emulator."""
    return GoogleAdsSettings.model_validate(
        {
            "enabled": True,
            "api": "google_ads",
            "customer_id": CUSTOMER,
            "conversion_action_id": ACTION,
            "developer_token": DEVELOPER_TOKEN,
            "credentials": ads_server.credentials_info(),
            "endpoint": ads_server.endpoint,
        }
    )


@pytest.fixture
def ads_client(api_settings: GoogleAdsSettings) -> GoogleAdsClient:
    """The unmodified ``google-ads`` client on the emulator."""
    return build_ads_client(api_settings)


def click(client: GoogleAdsClient, **fields: Any) -> Any:
    """A ``ClickConversion`` (defaults: the test action, a day before ``NOW``)."""
    row = client.get_type("ClickConversion")
    values: dict[str, Any] = {
        "conversion_action": ACTION_NAME,
        "conversion_date_time": stamp(NOW - timedelta(days=1)),
        "conversion_value": 120.5,
        "currency_code": "EUR",
        **fields,
    }
    identifiers = values.pop("user_identifiers", [])
    for key, value in values.items():
        if value is not None:
            setattr(row, key, value)
    for kind, value in identifiers:
        identifier = client.get_type("UserIdentifier")
        setattr(identifier, kind, value)
        row.user_identifiers.append(identifier)
    return row


def upload(
    client: GoogleAdsClient,
    conversions: list[Any],
    *,
    partial_failure: bool = True,
    validate_only: bool = False,
    timeout: float | None = 10.0,
) -> Any:
    """One ``UploadClickConversions`` call through the SDK."""
    request = client.get_type("UploadClickConversionsRequest")
    request.customer_id = CUSTOMER
    request.partial_failure = partial_failure
    request.validate_only = validate_only
    request.conversions.extend(conversions)
    service = client.get_service("ConversionUploadService")
    return service.upload_click_conversions(request=request, timeout=timeout)


def adjustment(client: GoogleAdsClient, kind: str, order_id: str | None, **fields: Any) -> Any:
    """A ``ConversionAdjustment`` (``kind`` RESTATEMENT or RETRACTION), made at ``NOW``."""
    row = client.get_type("ConversionAdjustment")
    row.adjustment_type = getattr(client.enums.ConversionAdjustmentTypeEnum, kind)
    row.conversion_action = fields.pop("conversion_action", ACTION_NAME)
    row.adjustment_date_time = fields.pop("adjustment_date_time", stamp(NOW))
    if order_id is not None:
        row.order_id = order_id
    if "value" in fields:
        row.restatement_value.adjusted_value = fields.pop("value")
    for key, value in fields.items():
        setattr(row, key, value)
    return row


def adjust(
    client: GoogleAdsClient,
    adjustments: list[Any],
    *,
    partial_failure: bool = True,
    validate_only: bool = False,
) -> Any:
    """One ``UploadConversionAdjustments`` call through the SDK."""
    request = client.get_type("UploadConversionAdjustmentsRequest")
    request.customer_id = CUSTOMER
    request.partial_failure = partial_failure
    request.validate_only = validate_only
    request.conversion_adjustments.extend(adjustments)
    service = client.get_service("ConversionAdjustmentUploadService")
    return service.upload_conversion_adjustments(request=request, timeout=10.0)


def row_errors(client: GoogleAdsClient, response: Any) -> dict[int, list[tuple[str, str]]]:
    """Partial-failure error codes by the failing row's index, decoded as users do."""
    failure_type = type(client.get_type("GoogleAdsFailure"))
    found: dict[int, list[tuple[str, str]]] = {}
    for detail in response.partial_failure_error.details:
        for err in failure_type.deserialize(detail.value).errors:
            first = err.location.field_path_elements[0]
            assert first.field_name in ("conversions", "conversion_adjustments")
            found.setdefault(first.index, []).append(error_code(err))
    return found


def request_errors(exc: GoogleAdsException) -> list[tuple[str, str]]:
    """The ``(kind, NAME)`` codes of a whole-request failure."""
    return [error_code(e) for e in exc.failure.errors]


@pytest.fixture
def make_planned() -> Callable[..., PlannedConversion]:
    """A planned conversion whose gclid the test seeds; fields overridable."""
    counter = iter(range(1, 1_000_000))

    def build(**changes: Any) -> PlannedConversion:
        number = next(counter)
        fields: dict[str, Any] = {
            "id": number,
            "deal_id": f"deal-{number}",
            "destination": "google_ads",
            "kind": "conversion",
            "event_name": "purchase",
            "dedup_key": f"deal-{number}-won",
            "value": Decimal("120.50"),
            "currency": "EUR",
            "event_time": NOW - timedelta(days=1),
            "identifiers": Identifiers(
                gclid=f"Cj0KCQiA-planned-{number:04d}", click_time=NOW - timedelta(days=2)
            ),
            **changes,
        }
        return PlannedConversion(**fields)

    return build


def seed_clicks(server: GoogleAdsApiServer, *planned: PlannedConversion) -> None:
    """Tell the emulator about each planned conversion's click."""
    for item in planned:
        ids = item.identifiers
        click_id = ids.gclid or ids.wbraid or ids.gbraid
        kind = "gclid" if ids.gclid else ("wbraid" if ids.wbraid else "gbraid")
        assert click_id and ids.click_time
        server.add_click(click_id, ids.click_time, kind=kind)
