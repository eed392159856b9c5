"""The Google Ads sandbox's conversion_action GAQL, customer settings and upload refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from google.ads.googleads.client import GoogleAdsClient
from google.ads.googleads.errors import GoogleAdsException

from platforms.google_ads.sandbox import ADWORDS_SCOPE, GoogleAdsSandbox
from platforms.google_ads.sandbox.ads import GoogleAdsApiServer
from tests.platforms.google_ads.ads_fixtures import (
    ACTION,
    CUSTOMER,
    NOW,
    ads_client,
    ads_server,
    api_settings,
    click,
    clock,
    faults,
    request_errors,
    row_errors,
    upload,
)

__all__ = ["ads_client", "ads_server", "api_settings", "clock", "faults"]

GCLID = "Cj0KCQiA-known-click-0001"


def _search(client: GoogleAdsClient, query: str) -> list:
    service = client.get_service("GoogleAdsService")
    return [r for b in service.search_stream(customer_id=CUSTOMER, query=query) for r in b.results]


def test_conversion_action_rows_carry_googles_enums(ads_client, ads_server: GoogleAdsApiServer):
    """Type, status and counting arrive as the SDK's enums; WHERE on the ID filters."""
    ads_server.catalog.set_action(
        CUSTOMER, ACTION, name="Won deals", counting_type="MANY_PER_CLICK"
    )
    [row] = _search(
        ads_client,
        "SELECT conversion_action.id, conversion_action.name, conversion_action.type, "
        "conversion_action.status, conversion_action.click_through_lookback_window_days, "
        "conversion_action.counting_type FROM conversion_action "
        f"WHERE conversion_action.id = {ACTION}",
    )
    action = row.conversion_action
    assert (action.id, action.name) == (int(ACTION), "Won deals")
    assert (action.type_.name, action.status.name, action.counting_type.name) == (
        "UPLOAD_CLICKS",
        "ENABLED",
        "MANY_PER_CLICK",
    )
    assert action.click_through_lookback_window_days > 0
    assert _search(ads_client, "SELECT conversion_action.id FROM conversion_action "
                   "WHERE conversion_action.id = 1") == []  # fmt: skip


def test_customer_settings_row_has_the_terms_flag(ads_client, ads_server: GoogleAdsApiServer):
    """One customer row without metrics; the terms flag follows the catalog."""
    query = (
        "SELECT customer.id, "
        "customer.conversion_tracking_setting.accepted_customer_data_terms FROM customer"
    )
    [row] = _search(ads_client, query)
    assert row.customer.conversion_tracking_setting.accepted_customer_data_terms is True
    ads_server.catalog.accept_terms(CUSTOMER, False)
    [row] = _search(ads_client, query)
    assert row.customer.conversion_tracking_setting.accepted_customer_data_terms is False


def test_unknown_field_is_googles_query_error(ads_client):
    """A field conversion_action does not have is UNRECOGNIZED_FIELD."""
    with pytest.raises(GoogleAdsException) as raised:
        _search(ads_client, "SELECT conversion_action.colour FROM conversion_action")
    assert request_errors(raised.value) == [("query_error", "UNRECOGNIZED_FIELD")]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"status": "REMOVED"}, "NO_CONVERSION_ACTION_FOUND"),
        ({"status": "HIDDEN"}, "NO_CONVERSION_ACTION_FOUND"),
        ({"type": "WEBPAGE"}, "INVALID_CONVERSION_ACTION_TYPE"),
    ],
)
def test_uploads_to_a_disabled_or_wrong_type_action_are_refused(
    ads_client, ads_server: GoogleAdsApiServer, changes, code
):
    """What doctor flags, the upload meets as Google's ConversionUploadError."""
    ads_server.add_click(GCLID, NOW - timedelta(days=3))
    ads_server.catalog.set_action(CUSTOMER, ACTION, **changes)
    response = upload(ads_client, [click(ads_client, gclid=GCLID, order_id="o-1")])
    assert row_errors(ads_client, response) == {0: [("conversion_upload_error", code)]}
    assert ads_server.accepted == []


def test_tokeninfo_answers_scopes_and_refuses_unknown_tokens():
    """Google's tokeninfo shape: scope string and string expiries; invalid_token for others."""
    with GoogleAdsSandbox() as sandbox:
        token = sandbox.issuer.mint({ADWORDS_SCOPE})
        url = sandbox.token_endpoint.url + "/tokeninfo"
        info = requests.get(url, params={"access_token": token}, timeout=5)
        assert info.status_code == 200
        body = info.json()
        assert body["scope"] == ADWORDS_SCOPE and body["expires_in"].isdigit()
        bad = requests.get(url, params={"access_token": "ya29.nope"}, timeout=5)
        assert (bad.status_code, bad.json()["error"]) == (400, "invalid_token")
