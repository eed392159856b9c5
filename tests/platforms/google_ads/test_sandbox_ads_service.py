"""The emulator's SearchStream, authentication, quota and injected faults, via the SDK."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import grpc
import pytest
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions as core_exceptions
from google.oauth2.credentials import Credentials

from platforms.google_ads.ads_api import error_code, retry_delay
from platforms.google_ads.sandbox.ads import FAILURE_KEY, GoogleAdsApiServer
from platforms.sandbox_kit import Fault, FaultPlan
from tests.platforms.google_ads.ads_fixtures import (
    CUSTOMER,
    NOW,
    ads_client,
    ads_server,
    api_settings,
    click,
    clock,
    faults,
    request_errors,
    upload,
)

__all__ = ["ads_client", "ads_server", "api_settings", "clock", "faults"]

GCLID = "Cj0KCQiA-service-click"
DAY = date(2026, 11, 1)


def search(client: GoogleAdsClient, query: str) -> list[Any]:
    """All rows of one SearchStream call."""
    service = client.get_service("GoogleAdsService")
    return [
        row
        for batch in service.search_stream(customer_id=CUSTOMER, query=query, timeout=10)
        for row in batch.results
    ]


def sdk_client(ads_server: GoogleAdsApiServer, **changes: Any) -> GoogleAdsClient:
    """A raw SDK client on the emulator with a chosen token or developer token."""
    values: dict[str, Any] = {
        "credentials": Credentials(token=changes.pop("token", None) or "missing"),
        "developer_token": "sandbox-developer-token",
        "endpoint": ads_server.endpoint,
        "version": "v26",
        "use_proto_plus": True,
        **changes,
    }
    return GoogleAdsClient(**values)


def test_search_stream_serves_seeded_spend_in_the_date_range(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """Campaign rows sum the seeded spend per day; days outside BETWEEN are left out."""
    for offset, cost in ((0, "1.25"), (1, "2.50"), (5, "9.00")):
        ads_server.add_spend(
            DAY + timedelta(offset),
            campaign_id="11",
            campaign="Brand",
            cost=cost,
            clicks=3,
            impressions=30,
            ad_group_id="21",
            ad_group="Shoes",
            keyword_id="31",
            keyword="red shoes",
        )
    ads_server.add_spend(DAY, campaign_id="11", campaign="Brand", cost="0.75", clicks=1)
    rows = search(
        ads_client,
        "SELECT campaign.id, campaign.name, segments.date, metrics.cost_micros, metrics.clicks "
        "FROM campaign WHERE segments.date BETWEEN '2026-11-01' AND '2026-11-02' "
        "ORDER BY segments.date",
    )
    assert [(r.segments.date, r.metrics.cost_micros, r.metrics.clicks) for r in rows] == [
        ("2026-11-01", 2_000_000, 4),
        ("2026-11-02", 2_500_000, 3),
    ]
    assert {r.campaign.name for r in rows} == {"Brand"}
    keywords = search(
        ads_client,
        "SELECT ad_group_criterion.keyword.text, metrics.cost_micros FROM keyword_view "
        "WHERE segments.date = '2026-11-01'",
    )
    assert [(r.ad_group_criterion.keyword.text, r.metrics.cost_micros) for r in keywords] == [
        ("red shoes", 1_250_000)
    ]


QUERY_CASES = [
    ("SELECT campaign.colour FROM campaign", "UNRECOGNIZED_FIELD"),
    ("SELECT campaign.id FROM campaigns", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
    ("SELECT ad_group.name FROM campaign", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"),
    ("SELECT campaign.id, segments.date FROM campaign", "EXPECTED_FILTERS_ON_DATE_RANGE"),
    (
        "SELECT campaign.id FROM campaign "
        "WHERE segments.date BETWEEN '2026/11/01' AND '2026-11-02'",
        "INVALID_DATE_FORMAT",
    ),
    ("SELECT campaign.id FROM campaign WHERE segments.date ~ 'x'", "UNEXPECTED_INPUT"),
    ("campaign.id FROM campaign", "EXPECTED_SELECT"),
]


@pytest.mark.parametrize(("query", "expected"), QUERY_CASES)
def test_bad_queries_get_a_query_error(
    ads_client: GoogleAdsClient, query: str, expected: str
) -> None:
    """Unknown fields, resources and malformed GAQL are refused with Google's QueryError."""
    with pytest.raises(GoogleAdsException) as raised:
        search(ads_client, query)
    assert request_errors(raised.value) == [("query_error", expected)]


def test_missing_developer_token_is_refused(ads_server: GoogleAdsApiServer) -> None:
    """No developer-token header: RequestError.DEVELOPER_TOKEN_PARAMETER_MISSING."""
    token = ads_server.token_issuer.mint({"https://www.googleapis.com/auth/adwords"})
    client = sdk_client(ads_server, token=token, developer_token=None)
    with pytest.raises(GoogleAdsException) as raised:
        upload(client, [click(client, gclid=GCLID)])
    assert request_errors(raised.value) == [("request_error", "DEVELOPER_TOKEN_PARAMETER_MISSING")]


def test_wrong_developer_token_is_refused(ads_server: GoogleAdsApiServer) -> None:
    """An unknown developer token: AuthenticationError.DEVELOPER_TOKEN_INVALID."""
    token = ads_server.token_issuer.mint({"https://www.googleapis.com/auth/adwords"})
    client = sdk_client(ads_server, token=token, developer_token="not-ours")
    with pytest.raises(GoogleAdsException) as raised:
        upload(client, [click(client, gclid=GCLID)])
    assert request_errors(raised.value) == [("authentication_error", "DEVELOPER_TOKEN_INVALID")]
    assert raised.value.error.code() is grpc.StatusCode.UNAUTHENTICATED


def test_unknown_bearer_token_is_unauthenticated(ads_server: GoogleAdsApiServer) -> None:
    """A token the issuer never minted: AuthenticationError.OAUTH_TOKEN_INVALID."""
    client = sdk_client(ads_server, token="ya29.forged")
    with pytest.raises(GoogleAdsException) as raised:
        upload(client, [click(client, gclid=GCLID)])
    assert request_errors(raised.value) == [("authentication_error", "OAUTH_TOKEN_INVALID")]


def test_token_without_adwords_scope_is_denied(ads_server: GoogleAdsApiServer) -> None:
    """A live token for another API is refused before the Ads API (PERMISSION_DENIED)."""
    token = ads_server.token_issuer.mint({"https://www.googleapis.com/auth/datamanager"})
    client = sdk_client(ads_server, token=token)
    with pytest.raises(core_exceptions.PermissionDenied):
        upload(client, [click(client, gclid=GCLID)])


def test_unknown_login_customer_is_refused(ads_server: GoogleAdsApiServer) -> None:
    """A login-customer-id that is not a known account: HeaderError.INVALID_LOGIN_CUSTOMER_ID."""
    token = ads_server.token_issuer.mint({"https://www.googleapis.com/auth/adwords"})
    client = sdk_client(ads_server, token=token, login_customer_id="5555555555")
    with pytest.raises(GoogleAdsException) as raised:
        upload(client, [click(client, gclid=GCLID)])
    assert request_errors(raised.value) == [("header_error", "INVALID_LOGIN_CUSTOMER_ID")]


@pytest.mark.parametrize("faults", [FaultPlan(script={1: Fault.RATE_LIMIT}, retry_after_seconds=7)])
def test_rate_limit_is_resource_exhausted_with_a_retry_delay(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """RESOURCE_TEMPORARILY_EXHAUSTED carries the retry delay in QuotaErrorDetails."""
    ads_server.add_click(GCLID, NOW - timedelta(days=2))
    with pytest.raises(core_exceptions.ResourceExhausted) as raised:
        upload(ads_client, [click(ads_client, gclid=GCLID)])
    trailers = dict(raised.value.response.trailing_metadata())
    from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

    failure = GoogleAdsFailure.deserialize(trailers[FAILURE_KEY])
    assert [error_code(e) for e in failure.errors] == [
        ("quota_error", "RESOURCE_TEMPORARILY_EXHAUSTED")
    ]
    assert retry_delay(list(failure.errors)) == 7.0
    assert ads_server.accepted == []
    upload(ads_client, [click(ads_client, gclid=GCLID)])
    assert len(ads_server.accepted) == 1


def test_daily_operation_quota_is_enforced(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer, clock: Any
) -> None:
    """Past the daily operations, RESOURCE_EXHAUSTED asks to wait until Pacific midnight."""
    ads_server.daily_operations = 2
    rows = [click(ads_client, gclid=f"Cj0KCQiA-quota-{i:04d}") for i in range(3)]
    with pytest.raises(core_exceptions.ResourceExhausted) as raised:
        upload(ads_client, rows)
    from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

    failure = GoogleAdsFailure.deserialize(
        dict(raised.value.response.trailing_metadata())[FAILURE_KEY]
    )
    assert error_code(failure.errors[0]) == ("quota_error", "RESOURCE_EXHAUSTED")
    # NOW is 04:00 in Los Angeles: 20 hours to the quota reset.
    assert retry_delay(list(failure.errors)) == 20 * 3600.0
    upload(ads_client, rows[:2])  # two operations still fit


@pytest.mark.parametrize("faults", [FaultPlan(script={1: Fault.LOST_RESPONSE})])
def test_lost_response_keeps_the_conversion(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer
) -> None:
    """The call fails as UNAVAILABLE but Google kept the row; a resend is a duplicate."""
    ads_server.add_click(GCLID, NOW - timedelta(days=2))
    row = click(ads_client, gclid=GCLID, order_id="deal-5-won")
    with pytest.raises(core_exceptions.ServiceUnavailable):
        upload(ads_client, [row])
    assert [c["order_id"] for c in ads_server.accepted] == ["deal-5-won"]
    response = upload(ads_client, [row])
    assert response.partial_failure_error.details


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (FaultPlan(script={1: Fault.SERVER_ERROR}), core_exceptions.InternalServerError),
        (FaultPlan(script={1: Fault.UNAVAILABLE}), core_exceptions.ServiceUnavailable),
        (FaultPlan(script={1: Fault.DROP}), core_exceptions.ServiceUnavailable),
        (
            FaultPlan(script={1: Fault.TIMEOUT}, timeout_seconds=2.0),
            core_exceptions.DeadlineExceeded,
        ),
    ],
    ids=["internal", "unavailable", "drop", "timeout"],
)
def test_injected_faults_reach_the_client(
    ads_client: GoogleAdsClient, ads_server: GoogleAdsApiServer, expected: type[Exception]
) -> None:
    """Server errors, outages and held calls surface as the gRPC status Google would give."""
    ads_server.add_click(GCLID, NOW - timedelta(days=2))
    with pytest.raises(expected):
        upload(ads_client, [click(ads_client, gclid=GCLID)], timeout=0.5)
    assert ads_server.accepted == []
    assert ads_server.requests == 1
