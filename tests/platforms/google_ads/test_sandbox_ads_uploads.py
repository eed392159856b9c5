"""The Google Ads API emulator answers click-conversion uploads as Google does, via the SDK."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import grpc
import pytest
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException

from platforms.google_ads.sandbox.ads import FAILURE_KEY, GoogleAdsApiServer
from tests.platforms.google_ads.ads_fixtures import (
    ACTION,
    CUSTOMER,
    EMAIL_HASH,
    NOW,
    PHONE_HASH,
    ads_client,
    ads_server,
    api_settings,
    click,
    clock,
    conversion_action_name,
    faults,
    request_errors,
    row_errors,
    stamp,
    upload,
)

__all__ = ["ads_client", "ads_server", "api_settings", "clock", "faults"]

GCLID = "Cj0KCQiA-known-click-0001"
GBRAID = "0AAAAA-known-gbraid-01"
WBRAID = "CkAKCQiA-known-wbraid-01"
CLICK_TIME = NOW - timedelta(days=3)


@pytest.fixture(autouse=True)
def seeded(ads_server: GoogleAdsApiServer) -> None:
    """Three clicks three days before ``NOW``, one per click ID kind."""
    ads_server.add_click(GCLID, CLICK_TIME)
    ads_server.add_click(GBRAID, CLICK_TIME, kind="gbraid")
    ads_server.add_click(WBRAID, CLICK_TIME, kind="wbraid")


def test_a_valid_conversion_is_accepted_and_echoed(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """A good row comes back in results and is kept with its order ID, value and click."""
    response = upload(ads_client, [click(ads_client, gclid=GCLID, order_id="deal-1-won")])
    assert not response.partial_failure_error.details
    assert response.results[0].gclid == GCLID
    assert response.results[0].conversion_action == conversion_action_name(CUSTOMER, ACTION)
    [kept] = ads_server.accepted
    assert kept["order_id"] == "deal-1-won"
    assert kept["gclid"] == GCLID
    assert kept["value"] == 120.5
    assert kept["currency"] == "EUR"
    assert kept["conversion_date_time"] == stamp(NOW - timedelta(days=1))
    assert (kept["restated"], kept["retracted"]) == (False, False)
    assert ads_server.requests == 1


def test_not_allowlisted_customer_gets_not_allowlisted_error(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """A customer Google does not allowlist is refused as a whole with NotAllowlistedError."""
    ads_server.add_customer(CUSTOMER, allowlisted=False)
    with pytest.raises(GoogleAdsException) as raised:
        upload(ads_client, [click(ads_client, gclid=GCLID, order_id="o-1")])
    assert request_errors(raised.value) == [
        ("not_allowlisted_error", "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE")
    ]
    assert raised.value.error.code() is grpc.StatusCode.PERMISSION_DENIED
    trailers = dict(raised.value.error.trailing_metadata())
    assert FAILURE_KEY in trailers
    assert "Data Manager API" in raised.value.failure.errors[0].message
    assert ads_server.accepted == []


def test_partial_failure_false_is_refused(ads_client: GoogleAdsClient) -> None:
    """Uploads must set partial_failure: PARTIAL_FAILURE_MODE_REQUIRED otherwise."""
    with pytest.raises(GoogleAdsException) as raised:
        upload(ads_client, [click(ads_client, gclid=GCLID)], partial_failure=False)
    assert request_errors(raised.value) == [
        ("partial_failure_error", "PARTIAL_FAILURE_MODE_REQUIRED")
    ]


def test_more_than_2000_conversions_are_refused(ads_client: GoogleAdsClient) -> None:
    """2,001 rows fail the whole request; 2,000 are processed row by row."""
    rows = [click(ads_client, gclid=f"Cj0KCQiA-unknown-{i:05d}") for i in range(2001)]
    with pytest.raises(GoogleAdsException) as raised:
        upload(ads_client, rows)
    assert request_errors(raised.value) == [
        ("conversion_upload_error", "TOO_MANY_CONVERSIONS_IN_REQUEST")
    ]
    response = upload(ads_client, rows[:2000])
    assert len(row_errors(ads_client, response)) == 2000


ROW_CASES: list[tuple[str, dict[str, Any], tuple[str, str]]] = [
    (
        "unknown action",
        {"gclid": GCLID, "conversion_action": conversion_action_name(CUSTOMER, "999")},
        ("conversion_upload_error", "NO_CONVERSION_ACTION_FOUND"),
    ),
    (
        "ISO date time",
        {"gclid": GCLID, "conversion_date_time": "2026-11-19T12:00:00Z"},
        ("date_error", "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"),
    ),
    (
        "no offset",
        {"gclid": GCLID, "conversion_date_time": "2026-11-19 12:00:00"},
        ("date_error", "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET"),
    ),
    (
        "gbraid and wbraid",
        {"gbraid": GBRAID, "wbraid": WBRAID},
        ("conversion_upload_error", "GBRAID_WBRAID_BOTH_SET"),
    ),
    (
        "braid with gclid",
        {"gbraid": GBRAID, "gclid": GCLID},
        ("field_error", "VALUE_MUST_BE_UNSET"),
    ),
    (
        "braid with user identifiers",
        {"wbraid": WBRAID, "user_identifiers": [("hashed_email", EMAIL_HASH)]},
        ("field_error", "VALUE_MUST_BE_UNSET"),
    ),
    (
        "malformed gclid",
        {"gclid": "not a gclid!"},
        ("conversion_upload_error", "UNPARSEABLE_GCLID"),
    ),
    (
        "unknown gclid",
        {"gclid": "Cj0KCQiA-never-clicked"},
        ("conversion_upload_error", "EVENT_NOT_FOUND"),
    ),
    (
        "conversion before click",
        {"gclid": GCLID, "conversion_date_time": stamp(CLICK_TIME - timedelta(minutes=1))},
        ("conversion_upload_error", "CONVERSION_PRECEDES_EVENT"),
    ),
    (
        "email in order id",
        {"gclid": GCLID, "order_id": "order-buyer@example.com"},
        ("conversion_upload_error", "ORDER_ID_CONTAINS_PII"),
    ),
    (
        "six user identifiers",
        {"gclid": GCLID, "user_identifiers": [("hashed_email", EMAIL_HASH)] * 6},
        ("collection_size_error", "TOO_MANY"),
    ),
    (
        "unhashed email",
        {"gclid": GCLID, "user_identifiers": [("hashed_email", "buyer@example.com")]},
        ("conversion_upload_error", "INVALID_USER_IDENTIFIER"),
    ),
    (
        "uppercase hash",
        {"gclid": GCLID, "user_identifiers": [("hashed_phone_number", PHONE_HASH.upper())]},
        ("conversion_upload_error", "INVALID_USER_IDENTIFIER"),
    ),
    (
        "third-party user id",
        {"gclid": GCLID, "user_identifiers": [("third_party_user_id", "user-1")]},
        ("conversion_upload_error", "UNSUPPORTED_USER_IDENTIFIER"),
    ),
    (
        "identifiers without a matching click",
        {"user_identifiers": [("hashed_email", EMAIL_HASH)]},
        ("conversion_upload_error", "CLICK_NOT_FOUND"),
    ),
    (
        "lowercase currency",
        {"gclid": GCLID, "currency_code": "eur"},
        ("currency_code_error", "UNSUPPORTED"),
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [c[1:] for c in ROW_CASES], ids=[c[0] for c in ROW_CASES]
)
def test_each_bad_row_gets_googles_error_code(
    ads_client: GoogleAdsClient,
    ads_server: GoogleAdsApiServer,
    fields: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    """Every documented row-level rejection arrives as a partial failure at conversions[0]."""
    response = upload(ads_client, [click(ads_client, **fields)])
    assert row_errors(ads_client, response) == {0: [expected]}
    assert len(response.results) == 1
    assert not response.results[0].conversion_action  # failed rows keep their slot, empty
    assert ads_server.accepted == []


def test_click_older_than_the_actions_window_is_expired(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """A conversion 31 days after its click, on a 30-day action, is EXPIRED_EVENT."""
    old = NOW - timedelta(days=40)
    ads_server.add_click("Cj0KCQiA-old-click-01", old)
    late = click(
        ads_client, gclid="Cj0KCQiA-old-click-01", conversion_date_time=stamp(old + timedelta(31))
    )
    inside = click(
        ads_client, gclid="Cj0KCQiA-old-click-01", conversion_date_time=stamp(old + timedelta(29))
    )
    response = upload(ads_client, [late, inside])
    assert row_errors(ads_client, response) == {0: [("conversion_upload_error", "EXPIRED_EVENT")]}
    assert len(ads_server.accepted) == 1


def test_click_younger_than_six_hours_is_too_recent(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer, clock: Any
) -> None:
    """A click 5 h 59 min old is TOO_RECENT_EVENT; the same upload works once 6 h passed."""
    fresh = NOW - timedelta(hours=5, minutes=59)
    ads_server.add_click("Cj0KCQiA-fresh-click", fresh)
    row = click(ads_client, gclid="Cj0KCQiA-fresh-click", conversion_date_time=stamp(fresh))
    response = upload(ads_client, [row])
    assert row_errors(ads_client, response) == {
        0: [("conversion_upload_error", "TOO_RECENT_EVENT")]
    }
    clock.now = NOW + timedelta(minutes=1)
    assert not upload(ads_client, [row]).partial_failure_error.details


def test_new_conversion_action_is_too_recent(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """An action created an hour ago refuses uploads with TOO_RECENT_CONVERSION_ACTION."""
    ads_server.add_conversion_action(CUSTOMER, "800", created_at=NOW - timedelta(hours=1))
    row = click(ads_client, gclid=GCLID, conversion_action=conversion_action_name(CUSTOMER, "800"))
    response = upload(ads_client, [row])
    assert row_errors(ads_client, response) == {
        0: [("conversion_upload_error", "TOO_RECENT_CONVERSION_ACTION")]
    }


def test_partial_failure_maps_errors_to_row_indexes(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """Rows 0 and 2 fail, row 1 is kept; results keep positions with empty failed rows."""
    rows = [
        click(ads_client, gclid="Cj0KCQiA-never-clicked", order_id="o-0"),
        click(ads_client, gclid=GCLID, order_id="o-1"),
        click(ads_client, gbraid=GBRAID, wbraid=WBRAID, order_id="o-2"),
    ]
    response = upload(ads_client, rows)
    assert row_errors(ads_client, response) == {
        0: [("conversion_upload_error", "EVENT_NOT_FOUND")],
        2: [("conversion_upload_error", "GBRAID_WBRAID_BOTH_SET")],
    }
    assert [bool(r.conversion_action) for r in response.results] == [False, True, False]
    assert response.results[1].gclid == GCLID
    assert response.partial_failure_error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert [c["order_id"] for c in ads_server.accepted] == ["o-1"]


def test_order_id_is_unique_across_and_within_requests(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """A reused order ID is ORDER_ID_ALREADY_IN_USE; twice in one request, DUPLICATE_ORDER_ID."""
    upload(ads_client, [click(ads_client, gclid=GCLID, order_id="deal-7")])
    again = click(ads_client, gbraid=GBRAID, order_id="deal-7")
    response = upload(ads_client, [again])
    assert row_errors(ads_client, response) == {
        0: [("conversion_upload_error", "ORDER_ID_ALREADY_IN_USE")]
    }
    twins = [
        click(ads_client, gbraid=GBRAID, order_id="deal-8"),
        click(ads_client, wbraid=WBRAID, order_id="deal-8"),
    ]
    response = upload(ads_client, twins)
    assert row_errors(ads_client, response) == {
        0: [("conversion_upload_error", "DUPLICATE_ORDER_ID")],
        1: [("conversion_upload_error", "DUPLICATE_ORDER_ID")],
    }
    assert [c["order_id"] for c in ads_server.accepted] == ["deal-7"]


def test_same_click_and_time_is_a_duplicate_conversion(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """Same click and conversion time: CLICK_CONVERSION_ALREADY_EXISTS, or in-request duplicate."""
    upload(ads_client, [click(ads_client, gclid=GCLID)])
    response = upload(ads_client, [click(ads_client, gclid=GCLID)])
    assert row_errors(ads_client, response) == {
        0: [("conversion_upload_error", "CLICK_CONVERSION_ALREADY_EXISTS")]
    }
    pair = [click(ads_client, wbraid=WBRAID), click(ads_client, wbraid=WBRAID)]
    response = upload(ads_client, pair)
    assert set(row_errors(ads_client, response)) == {0, 1}
    assert row_errors(ads_client, response)[0] == [
        ("conversion_upload_error", "DUPLICATE_CLICK_CONVERSION_IN_REQUEST")
    ]
    assert len(ads_server.accepted) == 1


def test_validate_only_reports_errors_but_stores_nothing(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """validate_only answers errors only: no results, nothing kept, the order ID stays free."""
    rows = [
        click(ads_client, gclid=GCLID, order_id="deal-9"),
        click(ads_client, gclid="bad gclid", order_id="deal-10"),
    ]
    response = upload(ads_client, rows, validate_only=True)
    assert row_errors(ads_client, response) == {
        1: [("conversion_upload_error", "UNPARSEABLE_GCLID")]
    }
    assert list(response.results) == []
    assert ads_server.accepted == []
    response = upload(ads_client, rows[:1])
    assert not response.partial_failure_error.details
    assert [c["order_id"] for c in ads_server.accepted] == ["deal-9"]


def test_click_of_another_account_is_refused(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """A click that belongs to a different account is INVALID_CUSTOMER_FOR_CLICK."""
    ads_server.add_click("Cj0KCQiA-other-account", CLICK_TIME, customer_id="999-888-7777")
    response = upload(ads_client, [click(ads_client, gclid="Cj0KCQiA-other-account")])
    assert row_errors(ads_client, response) == {
        0: [("conversion_upload_error", "INVALID_CUSTOMER_FOR_CLICK")]
    }
