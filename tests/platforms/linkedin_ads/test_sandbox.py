"""The Rest.li sandbox itself, spoken to with plain HTTP: it refuses what LinkedIn refuses.

These requests are built by hand from LinkedIn's documented protocol, not by our client, so a
sandbox that accepted a request LinkedIn rejects would fail here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from platforms.linkedin_ads.sandbox import LinkedInAdsSandbox
from platforms.sandbox_kit.protocol import DestinationSandbox

EMAIL_HASH = "6a6c26195c3682faa816966af789717c3bfa834eee6c599d667d2b3429c27cfd"


@pytest.fixture
def headers(sandbox: LinkedInAdsSandbox) -> dict[str, str]:
    """The headers LinkedIn's docs require on a BATCH_CREATE."""
    return {
        "Authorization": f"Bearer {sandbox.access_token}",
        "LinkedIn-Version": "202603",
        "X-Restli-Protocol-Version": "2.0.0",
        "X-RestLi-Method": "BATCH_CREATE",
        "Content-Type": "application/json",
    }


@pytest.fixture
def element(now) -> dict[str, Any]:
    """A valid element, as in LinkedIn's own example."""
    return {
        "conversion": "urn:lla:llaPartnerConversion:104906",
        "conversionHappenedAt": int((now - timedelta(days=1)).timestamp() * 1000),
        "conversionValue": {"currencyCode": "USD", "amount": "1500.0"},
        "user": {
            "userIds": [
                {"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH},
                {"idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "idValue": "df5gf5-gh6t7"},
            ]
        },
        "eventId": "abc12345",
    }


def post(sandbox: LinkedInAdsSandbox, headers: dict[str, str], body: Any) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/rest/conversionEvents", json=body, headers=headers, timeout=10
    )


def test_implements_the_destination_sandbox_protocol(sandbox):
    """What the demo and the contract kit drive."""
    assert isinstance(sandbox, DestinationSandbox)
    config = sandbox.platform_config()
    assert config["enabled"] and config["api_url"].endswith("/rest")


def test_documented_request_is_created(sandbox, headers, element):
    """LinkedIn's example request: 200 with one 201 per element, and the event kept."""
    response = post(sandbox, headers, {"elements": [element]})
    assert response.status_code == 200
    assert response.json() == {"elements": [{"status": 201}]}
    assert sandbox.accepted[0]["key"] == "abc12345"
    assert sandbox.accepted[0]["value"] == "1500.0"


@pytest.mark.parametrize(
    ("header", "value", "status", "code"),
    [
        ("LinkedIn-Version", None, 400, "VERSION_MISSING"),
        ("LinkedIn-Version", "2026-03", 426, "NONEXISTENT_VERSION"),
        ("X-Restli-Protocol-Version", None, 400, "INVALID_PROTOCOL_VERSION"),
        ("X-Restli-Protocol-Version", "1.0.0", 400, "INVALID_PROTOCOL_VERSION"),
        ("X-RestLi-Method", None, 400, "UNSUPPORTED_METHOD"),
        ("Authorization", None, 401, "EMPTY_ACCESS_TOKEN"),
        ("Authorization", "Bearer nope", 401, "INVALID_ACCESS_TOKEN"),
    ],
)
def test_required_headers(sandbox, headers, element, header, value, status, code):
    """Each header LinkedIn requires is checked; the whole request fails without it."""
    changed = {k: v for k, v in headers.items() if k != header}
    if value is not None:
        changed[header] = value
    response = post(sandbox, changed, {"elements": [element]})
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert sandbox.accepted == []


def test_batch_size_limit(sandbox, headers, element):
    """More than 5,000 elements, or none, fails the whole request."""
    too_many = [{**element, "eventId": f"e{i}"} for i in range(5001)]
    response = post(sandbox, headers, {"elements": too_many})
    assert (response.status_code, response.json()["code"]) == (400, "BATCH_SIZE_EXCEEDED")
    assert post(sandbox, headers, {"elements": []}).status_code == 400
    assert sandbox.accepted == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"conversion": "urn:lla:llaPartnerConversion:1"}, "CONVERSION_NOT_FOUND"),
        ({"conversion": "104906"}, "INVALID_CONVERSION"),
        ({"conversionHappenedAt": "2026-11-19"}, "INVALID_TIMESTAMP"),
        ({"eventId": "x" * 65}, "INVALID_EVENT_ID"),
        ({"user": {"userIds": []}}, "MISSING_USER_IDS"),
        ({"user": {"userIds": [{"idType": "PHONE", "idValue": "1"}]}}, "INVALID_ID_TYPE"),
        (
            {"user": {"userIds": [{"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH.upper()}]}},
            "INVALID_SHA256_EMAIL",
        ),
        ({"conversionValue": {"currencyCode": "USD", "amount": 10}}, "INVALID_AMOUNT"),
        ({"conversionValue": {"currencyCode": "usd", "amount": "10"}}, "INVALID_CURRENCY"),
    ],
)
def test_element_rules(sandbox, headers, element, change, code):
    """A bad element gets its own 400 with a code; the good one beside it is created."""
    bad = {**element, **change, "eventId": change.get("eventId", "bad-1")}
    response = post(sandbox, headers, {"elements": [bad, element]})
    assert response.status_code == 200
    statuses = response.json()["elements"]
    assert statuses[0]["status"] == 400 and statuses[0]["error"]["code"] == code
    assert statuses[1] == {"status": 201}
    assert [a["key"] for a in sandbox.accepted] == ["abc12345"]
    assert sandbox.rejected[0]["code"] == code


def test_age_limit_is_90_days(sandbox, headers, element, now):
    """An event that happened more than 90 days ago is refused."""
    old = {**element, "conversionHappenedAt": int((now - timedelta(days=91)).timestamp() * 1000)}
    statuses = post(sandbox, headers, {"elements": [old]}).json()["elements"]
    assert statuses[0]["error"]["code"] == "EVENT_TOO_OLD"


def test_event_id_dedup(sandbox, headers, element):
    """The same eventId on the same rule is counted once."""
    post(sandbox, headers, {"elements": [element]})
    again = post(sandbox, headers, {"elements": [element]})
    assert again.json() == {"elements": [{"status": 201}]}
    assert len(sandbox.accepted) == 1


def test_know_click_records(sandbox, now):
    """LinkedIn never refuses an unknown click; the sandbox only notes the ones it made."""
    sandbox.know_click("li_fat_id", "df5gf5-gh6t7", now)
    sandbox.know_click("gclid", "ignored", now)
    assert sandbox.clicks == {"df5gf5-gh6t7": now}


def test_token_endpoint_renews_and_is_not_an_api_request(sandbox, headers, element):
    """grant_type=refresh_token gives a token the API then accepts."""
    sandbox.add_refresh_token("AQX-r", "cid", "csecret", {"rw_conversions"})
    answer = requests.post(
        f"{sandbox.url}/oauth/v2/accessToken",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "AQX-r",
            "client_id": "cid",
            "client_secret": "csecret",
        },
        timeout=10,
    )
    token = answer.json()["access_token"]
    response = post(
        sandbox, {**headers, "Authorization": f"Bearer {token}"}, {"elements": [element]}
    )
    assert response.status_code == 200
    assert sandbox.requests == 1
