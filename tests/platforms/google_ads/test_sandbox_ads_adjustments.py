"""The emulator restates and retracts stored conversions under Google's adjustment rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException

from platforms.google_ads.sandbox.ads import GoogleAdsApiServer
from tests.platforms.google_ads.ads_fixtures import (
    CUSTOMER,
    NOW,
    Clock,
    adjust,
    adjustment,
    ads_client,
    ads_server,
    api_settings,
    click,
    clock,
    faults,
    request_errors,
    row_errors,
    stamp,
    upload,
)

__all__ = ["ads_client", "ads_server", "api_settings", "clock", "faults"]

GCLID = "Cj0KCQiA-adjusted-click"
CONVERTED = NOW - timedelta(days=1)


@pytest.fixture(autouse=True)
def stored(ads_server: GoogleAdsApiServer, ads_client: GoogleAdsClient) -> None:
    """One conversion, order ``deal-1-won`` worth 120.5, converted a day before ``NOW``."""
    ads_server.add_click(GCLID, NOW - timedelta(days=3))
    response = upload(
        ads_client,
        [
            click(
                ads_client,
                gclid=GCLID,
                order_id="deal-1-won",
                conversion_date_time=stamp(CONVERTED),
            )
        ],
    )
    assert not response.partial_failure_error.details


def test_restatement_changes_the_stored_value(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """RESTATEMENT by order ID sets the new value and marks the conversion restated."""
    response = adjust(ads_client, [adjustment(ads_client, "RESTATEMENT", "deal-1-won", value=80.0)])
    assert not response.partial_failure_error.details
    assert response.results[0].order_id == "deal-1-won"
    [kept] = ads_server.accepted
    assert (kept["value"], kept["original_value"]) == (80.0, 120.5)
    assert (kept["restated"], kept["retracted"]) == (True, False)


def test_retraction_marks_the_conversion_retracted(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """RETRACTION withdraws it; a second retraction is CONVERSION_ALREADY_RETRACTED."""
    adjust(ads_client, [adjustment(ads_client, "RETRACTION", "deal-1-won")])
    assert ads_server.accepted[0]["retracted"] is True
    later = stamp(NOW + timedelta(minutes=1))
    response = adjust(
        ads_client, [adjustment(ads_client, "RETRACTION", "deal-1-won", adjustment_date_time=later)]
    )
    assert row_errors(ads_client, response) == {
        0: [("conversion_adjustment_upload_error", "CONVERSION_ALREADY_RETRACTED")]
    }


def test_adjustments_are_not_allowlist_restricted(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """A customer without the upload allowlist may still restate its conversions."""
    ads_server.add_customer(CUSTOMER, allowlisted=False)
    response = adjust(ads_client, [adjustment(ads_client, "RESTATEMENT", "deal-1-won", value=5.0)])
    assert not response.partial_failure_error.details
    assert ads_server.accepted[0]["value"] == 5.0


ADJUST_CASES: list[tuple[str, str, str | None, dict[str, Any], tuple[str, str]]] = [
    (
        "restatement without value",
        "RESTATEMENT",
        "deal-1-won",
        {},
        ("field_error", "REQUIRED"),
    ),
    (
        "retraction with value",
        "RETRACTION",
        "deal-1-won",
        {"value": 10.0},
        ("field_error", "VALUE_MUST_BE_UNSET"),
    ),
    (
        "unknown order",
        "RESTATEMENT",
        "deal-404-won",
        {"value": 10.0},
        ("conversion_adjustment_upload_error", "CONVERSION_NOT_FOUND"),
    ),
    (
        "before the conversion",
        "RETRACTION",
        "deal-1-won",
        {"adjustment_date_time": stamp(CONVERTED - timedelta(seconds=1))},
        ("conversion_adjustment_upload_error", "ADJUSTMENT_PRECEDES_CONVERSION"),
    ),
    (
        "bad date time",
        "RETRACTION",
        "deal-1-won",
        {"adjustment_date_time": "2026-11-20T12:00:00+00:00"},
        ("date_error", "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"),
    ),
    (
        "order id and gclid pair",
        "RETRACTION",
        "deal-1-won",
        {"gclid_date_time_pair": {"gclid": GCLID, "conversion_date_time": stamp(CONVERTED)}},
        ("conversion_adjustment_upload_error", "GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET"),
    ),
    (
        "email in order id",
        "RETRACTION",
        "x@example.com",
        {},
        ("conversion_adjustment_upload_error", "ORDER_ID_CONTAINS_PII"),
    ),
]


@pytest.mark.parametrize(
    ("kind", "order_id", "fields", "expected"),
    [c[1:] for c in ADJUST_CASES],
    ids=[c[0] for c in ADJUST_CASES],
)
def test_each_bad_adjustment_gets_googles_error_code(
    ads_client: GoogleAdsClient,
    ads_server: GoogleAdsApiServer,
    kind: str,
    order_id: str | None,
    fields: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    """Each rejected adjustment is a partial failure at its index and changes nothing."""
    response = adjust(ads_client, [adjustment(ads_client, kind, order_id, **fields)])
    assert row_errors(ads_client, response) == {0: [expected]}
    [kept] = ads_server.accepted
    assert (kept["value"], kept["restated"], kept["retracted"]) == (120.5, False, False)


def test_gclid_date_time_pair_finds_the_conversion(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """The alternative key (gclid + conversion time) identifies the same conversion."""
    row = adjustment(ads_client, "RETRACTION", None)
    row.gclid_date_time_pair.gclid = GCLID
    row.gclid_date_time_pair.conversion_date_time = stamp(CONVERTED)
    response = adjust(ads_client, [row])
    assert not response.partial_failure_error.details
    assert ads_server.accepted[0]["retracted"] is True


def test_conversions_older_than_54_days_cannot_be_adjusted(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer, clock: Clock
) -> None:
    """54 days after the conversion a restatement works; a moment later it is CONVERSION_EXPIRED."""
    clock.now = CONVERTED + timedelta(days=54)
    first = adjustment(
        ads_client, "RESTATEMENT", "deal-1-won", value=90.0, adjustment_date_time=stamp(clock.now)
    )
    assert not adjust(ads_client, [first]).partial_failure_error.details
    clock.now = CONVERTED + timedelta(days=54, seconds=1)
    late = adjustment(
        ads_client, "RESTATEMENT", "deal-1-won", value=70.0, adjustment_date_time=stamp(clock.now)
    )
    response = adjust(ads_client, [late])
    assert row_errors(ads_client, response) == {
        0: [("conversion_adjustment_upload_error", "CONVERSION_EXPIRED")]
    }
    assert ads_server.accepted[0]["value"] == 90.0


def test_restatements_must_move_forward_in_time(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """Same timestamp is RESTATEMENT_ALREADY_EXISTS; an older one MORE_RECENT_RESTATEMENT_FOUND."""
    adjust(ads_client, [adjustment(ads_client, "RESTATEMENT", "deal-1-won", value=80.0)])
    same = adjustment(ads_client, "RESTATEMENT", "deal-1-won", value=60.0)
    older = adjustment(
        ads_client,
        "RESTATEMENT",
        "deal-1-won",
        value=60.0,
        adjustment_date_time=stamp(NOW - timedelta(hours=1)),
    )
    response = adjust(ads_client, [same, older])
    assert row_errors(ads_client, response) == {
        0: [("conversion_adjustment_upload_error", "RESTATEMENT_ALREADY_EXISTS")],
        1: [("conversion_adjustment_upload_error", "MORE_RECENT_RESTATEMENT_FOUND")],
    }
    assert ads_server.accepted[0]["value"] == 80.0


def test_adjustment_validate_only_changes_nothing(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """validate_only restatements come back without results and leave the value alone."""
    row = adjustment(ads_client, "RESTATEMENT", "deal-1-won", value=1.0)
    response = adjust(ads_client, [row], validate_only=True)
    assert list(response.results) == []
    assert ads_server.accepted[0]["value"] == 120.5


def test_adjustments_need_partial_failure_and_at_most_2000_rows(
    ads_client: GoogleAdsClient,
) -> None:
    """The request-level limits also hold for adjustments."""
    row = adjustment(ads_client, "RETRACTION", "deal-1-won")
    with pytest.raises(GoogleAdsException) as raised:
        adjust(ads_client, [row], partial_failure=False)
    assert request_errors(raised.value) == [
        ("partial_failure_error", "PARTIAL_FAILURE_MODE_REQUIRED")
    ]
    with pytest.raises(GoogleAdsException) as raised:
        adjust(ads_client, [row] * 2001)
    assert request_errors(raised.value) == [
        ("conversion_adjustment_upload_error", "TOO_MANY_ADJUSTMENTS_IN_REQUEST")
    ]
