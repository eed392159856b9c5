"""The Graph sandbox's events edge enforces Meta's documented limits, through the real SDK."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from facebook_business.adobjects.adspixel import AdsPixel
from facebook_business.exceptions import FacebookRequestError

from connector.config.models import MetaSettings
from platforms.meta.client import build_api
from platforms.meta.sandbox import (
    SUB_BAD_VALUE,
    SUB_IN_FUTURE,
    SUB_MISSING_FIELD,
    SUB_NO_USER_DATA,
    SUB_TOO_MANY,
    SUB_TOO_OLD,
    MetaSandbox,
)
from platforms.sandbox_kit import Fault, FaultPlan


def graph_error(post, events, **params) -> FacebookRequestError:
    with pytest.raises(FacebookRequestError) as info:
        post(events, **params)
    return info.value


def test_valid_request_is_counted(post_events, make_event, sandbox):
    """A valid request answers events_received/messages/fbtrace_id and is kept."""
    response = post_events([make_event(event_id="a"), make_event(event_id="b")])
    assert response["events_received"] == 2
    assert response["messages"] == []
    assert response["fbtrace_id"]
    assert [e["event_id"] for e in sandbox.accepted] == ["a", "b"]
    assert sandbox.accepted[0]["value"] == 120.5
    assert sandbox.accepted[0]["user_data_keys"] == ["em"]


def test_more_than_1000_events_rejected(post_events, make_event, sandbox):
    """1,001 events fail with code 100; 1,000 pass."""
    error = graph_error(post_events, [make_event(event_id=str(i)) for i in range(1001)])
    assert (error.api_error_code(), error.api_error_subcode()) == (100, SUB_TOO_MANY)
    assert error.http_status() == 400
    assert sandbox.accepted == []
    assert (
        post_events([make_event(event_id=str(i)) for i in range(1000)])["events_received"] == 1000
    )


def test_one_old_event_fails_the_whole_request(post_events, make_event, now, sandbox):
    """One event older than 7 days sinks every event in the request."""
    old = int((now - timedelta(days=7, seconds=1)).timestamp())
    events = [make_event(event_id="fresh"), make_event(event_id="old", event_time=old)]
    error = graph_error(post_events, events)
    assert (error.api_error_code(), error.api_error_subcode()) == (100, SUB_TOO_OLD)
    assert error.body()["error"]["error_user_title"] == "Event Timestamp Too Old"
    assert error.api_transient_error() is False
    assert sandbox.accepted == []


def test_physical_store_window_is_62_days(post_events, make_event, now, sandbox):
    """physical_store events may be up to 62 days old, not 63."""
    t = int((now - timedelta(days=61)).timestamp())
    post_events([make_event(action_source="physical_store", event_time=t)])
    too_old = int((now - timedelta(days=63)).timestamp())
    error = graph_error(
        post_events, [make_event(action_source="physical_store", event_time=too_old)]
    )
    assert error.api_error_subcode() == SUB_TOO_OLD
    assert len(sandbox.accepted) == 1


def test_future_event_rejected(post_events, make_event, now):
    """An event_time beyond the clock tolerance is refused."""
    future = int((now + timedelta(minutes=5)).timestamp())
    assert graph_error(post_events, [make_event(event_time=future)]).api_error_subcode() == (
        SUB_IN_FUTURE
    )


def test_bad_action_source_rejected(post_events, make_event):
    """An action_source outside Meta's list, or none, fails with code 100."""
    assert graph_error(post_events, [make_event(action_source="crm")]).api_error_code() == 100
    missing = make_event()
    del missing["action_source"]
    assert graph_error(post_events, [missing]).api_error_subcode() == SUB_MISSING_FIELD


@pytest.mark.parametrize(
    ("user_extra", "url"),
    [({}, "https://shop.example/thanks"), ({"client_user_agent": "Mozilla/5.0"}, None)],
    ids=["no-user-agent", "no-event-source-url"],
)
def test_website_needs_user_agent_and_url(post_events, make_event, email_hash, user_extra, url):
    """Website events without client_user_agent or event_source_url are refused."""
    event = make_event(
        action_source="website", event_source_url=url, user_data={"em": [email_hash], **user_extra}
    )
    assert graph_error(post_events, [event]).api_error_subcode() == SUB_MISSING_FIELD


def test_website_with_context_accepted(post_events, make_event, email_hash, sandbox):
    """A website event with user agent and URL is accepted."""
    event = make_event(
        action_source="website",
        event_source_url="https://shop.example/thanks",
        user_data={"em": [email_hash], "client_user_agent": "Mozilla/5.0"},
    )
    post_events([event])
    assert len(sandbox.accepted) == 1


@pytest.mark.parametrize(
    "user_data",
    [
        {"em": ["buyer@example.com"]},
        {"em": "BUYER@EXAMPLE.COM"},
        {"ph": ["+15551234567"]},
        {"em": ["ABCDEF" + "0" * 58]},
        {"fn": ["jane"]},
    ],
    ids=["plain-email", "plain-email-string", "plain-phone", "uppercase-hex", "plain-name"],
)
def test_unhashed_identifiers_rejected(post_events, make_event, user_data):
    """em/ph/fn... must be 64 lowercase hex characters; plain values are refused."""
    error = graph_error(post_events, [make_event(user_data=user_data)])
    assert error.api_error_subcode() == SUB_BAD_VALUE
    assert "SHA-256" in error.body()["error"]["error_user_msg"]


def test_hashed_client_ip_rejected(post_events, make_event, email_hash):
    """client_ip_address must never be hashed."""
    user = {"em": [email_hash], "client_ip_address": email_hash}
    assert graph_error(post_events, [make_event(user_data=user)]).api_error_subcode() == (
        SUB_BAD_VALUE
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("fbc", "IwAR2xyz"),
        ("fbc", "fb.1.1700000000.IwAR2xyz"),
        ("fbc", "fb.1.1700000000000."),
        ("fbp", "fb.1.1700000000000.abc"),
        ("fbp", "1700000000000.123"),
        ("fbp", "fb.1.1700000000000.123.AbCd"),
        ("fbc", "fb.1.1700000000000.IwAR2xyz.AbCd"),
        ("lead_id", "12345678901234"),
        ("lead_id", "12345678901234567"),
        ("lead_id", "1234567890abcde"),
    ],
)
def test_bad_click_and_lead_ids_rejected(post_events, make_event, key, value):
    """fbc/fbp must follow fb.<index>.<ms>.<...>; lead_id must be 15-16 digits."""
    event = make_event(user_data={key: value})
    assert graph_error(post_events, [event]).api_error_subcode() == SUB_BAD_VALUE


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("fbc", "fb.1.1700000000000.IwAR2xyz"),
        ("fbc", "fb.1.1700000000000.IwAR2xyz.AQICAQMC"),
        ("fbc", "fb.1.1700000000000.IwAR2xyz.Ag"),
        ("fbp", "fb.1.1700000000000.1234567890.AQICAQMC"),
        ("fbp", "fb.1.1700000000000.1234567890.Ag"),
        ("fbp", "fb.1.1700000000000.1234567890"),
        ("lead_id", "123456789012345"),
        ("lead_id", "1234567890123456"),
    ],
)
def test_well_formed_click_and_lead_ids_accepted(post_events, make_event, sandbox, key, value):
    """Documented fbc (with optional appendix), fbp and lead_id shapes are accepted alone."""
    post_events([make_event(user_data={key: value})])
    assert sandbox.accepted[0]["user_data"][key] == value


def test_user_data_needs_a_match_key(post_events, make_event):
    """A user agent alone, or no user_data, is not enough customer information."""
    only_ua = make_event(user_data={"client_user_agent": "Mozilla/5.0"})
    assert graph_error(post_events, [only_ua]).api_error_subcode() == SUB_NO_USER_DATA
    assert graph_error(post_events, [make_event(user_data={})]).api_error_code() == 100


def test_purchase_needs_value_and_currency(post_events, make_event):
    """Purchase without currency, or a value without currency, is refused."""
    purchase = make_event(custom_data={"value": 10})
    assert graph_error(post_events, [purchase]).api_error_subcode() == SUB_MISSING_FIELD
    lead = make_event(event_name="Lead", custom_data={"value": 10})
    assert graph_error(post_events, [lead]).api_error_subcode() == SUB_MISSING_FIELD


def test_wrong_token_is_190(sandbox, make_event):
    """A token that is not the pixel's fails with OAuthException code 190."""
    api = build_api(MetaSettings(**{**sandbox.platform_config(), "access_token": "EAAB-x"}))
    pixel = AdsPixel(sandbox.pixel_id, api=api)
    with pytest.raises(FacebookRequestError) as info:
        pixel.create_event(fields=[], params={"data": [json.dumps(make_event())]})
    assert info.value.api_error_code() == 190
    assert info.value.api_error_type() == "OAuthException"
    assert sandbox.accepted == []


def test_unknown_pixel_is_100_33(graph_api, make_event):
    """Posting to a pixel the sandbox does not know answers code 100, subcode 33."""
    with pytest.raises(FacebookRequestError) as info:
        AdsPixel("999", api=graph_api).create_event(fields=[], params={"data": ["{}"]})
    assert (info.value.api_error_code(), info.value.api_error_subcode()) == (100, 33)


def test_dedup_within_48_hours(post_events, make_event, sandbox, clock):
    """Same event_name + event_id counts once within 48 h, and again after."""
    post_events([make_event(event_id="deal-9")])
    clock["now"] += timedelta(hours=47)
    again = make_event(event_id="deal-9", event_time=int(clock["now"].timestamp()) - 60)
    assert post_events([again])["events_received"] == 1
    assert len(sandbox.accepted) == 1
    post_events([make_event(event_id="deal-9", event_name="Lead")])
    assert len(sandbox.accepted) == 2
    clock["now"] += timedelta(hours=2)
    later = make_event(event_id="deal-9", event_time=int(clock["now"].timestamp()) - 60)
    post_events([later])
    assert [e["event_name"] for e in sandbox.accepted] == ["Purchase", "Lead", "Purchase"]


def test_test_event_code_isolated(post_events, make_event, sandbox):
    """Events with test_event_code land in test_events, never in accepted or dedup."""
    post_events([make_event(event_id="t1")], test_event_code="TEST123")
    assert sandbox.accepted == []
    assert [(e["event_id"], e["test_event_code"]) for e in sandbox.test_events] == [
        ("t1", "TEST123")
    ]
    post_events([make_event(event_id="t1")])
    assert [e["event_id"] for e in sandbox.accepted] == ["t1"]


def test_rate_limit_fault_in_graph_shape(make_event, clock):
    """A rate-limit fault is a 429 with code 4, is_transient and a usage header."""
    with MetaSandbox(FaultPlan(script={1: Fault.RATE_LIMIT}), clock=lambda: clock["now"]) as sb:
        api = build_api(MetaSettings(**sb.platform_config()), timeout=10)
        with pytest.raises(FacebookRequestError) as info:
            AdsPixel(sb.pixel_id, api=api).create_event(
                fields=[], params={"data": [json.dumps(make_event())]}
            )
        assert info.value.http_status() == 429
        assert info.value.api_error_code() == 4
        assert info.value.api_transient_error() is True
        assert (
            "estimated_time_to_regain_access"
            in info.value.http_headers()["x-business-use-case-usage"]
        )
        assert sb.accepted == []


def test_server_error_fault_is_code_2(make_event, clock):
    """A server-error fault is a 500 with code 2 and is_transient."""
    with MetaSandbox(FaultPlan(script={1: Fault.SERVER_ERROR}), clock=lambda: clock["now"]) as sb:
        api = build_api(MetaSettings(**sb.platform_config()), timeout=10)
        with pytest.raises(FacebookRequestError) as info:
            AdsPixel(sb.pixel_id, api=api).create_event(fields=[], params={"data": ["{}"]})
        assert (info.value.http_status(), info.value.api_error_code()) == (500, 2)
        assert info.value.api_transient_error() is True


def test_lost_response_still_keeps_the_events(make_event, clock):
    """A lost response means Meta kept the events although the client saw a dropped socket."""
    with MetaSandbox(FaultPlan(script={1: Fault.LOST_RESPONSE}), clock=lambda: clock["now"]) as sb:
        api = build_api(MetaSettings(**sb.platform_config()), timeout=10)
        with pytest.raises(requests.ConnectionError):
            AdsPixel(sb.pixel_id, api=api).create_event(
                fields=[], params={"data": [json.dumps(make_event())]}
            )
        assert [e["event_id"] for e in sb.accepted] == ["deal-1"]
