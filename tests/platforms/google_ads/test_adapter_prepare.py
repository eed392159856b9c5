"""``GoogleAdsDestination.prepare``: Google's rules applied before anything is sent (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.ads import datamanager_v1 as dm

from connector.config.models import GoogleAdsSettings
from platforms.base import Identifiers, Prepared, Skip, Wait
from platforms.google_ads.adapter import GoogleAdsDestination

from .conftest import EMAIL_HASH, NOW, PHONE_HASH


def destination(**settings: Any) -> GoogleAdsDestination:
    """An adapter on complete settings; prepare never reaches the network."""
    values: dict[str, Any] = {
        "enabled": True,
        "customer_id": "123-456-7890",
        "conversion_action_id": "700000001",
        "credentials": {"client_id": "c", "client_secret": "s", "refresh_token": "r"},
        **settings,
    }
    return GoogleAdsDestination(GoogleAdsSettings.model_validate(values))


def clicked(hours_ago: float, **fields: Any) -> Identifiers:
    """Identifiers of a click ``hours_ago`` before ``NOW`` (gclid unless fields say otherwise)."""
    values: dict[str, Any] = {"click_time": NOW - timedelta(hours=hours_ago), **fields}
    if not any(values.get(k) for k in ("gclid", "gbraid", "wbraid")):
        values["gclid"] = "gclid-x"
    return Identifiers(**values)


def event_of(result: object) -> dm.Event:
    assert isinstance(result, Prepared), result
    assert result.payload.event is not None
    return result.payload.event


def test_gclid_wins_and_braids_are_never_sent_together(make_conversion):
    """With every click ID known only the gclid is sent; without it only the gbraid."""
    all_three = clicked(48, gclid="g", gbraid="gb", wbraid="wb")
    ids = event_of(destination().prepare(make_conversion(identifiers=all_three), NOW))
    assert (ids.ad_identifiers.gclid, ids.ad_identifiers.gbraid, ids.ad_identifiers.wbraid) == (
        "g",
        "",
        "",
    )
    braids = clicked(48, gbraid="gb", wbraid="wb")
    ids = event_of(destination().prepare(make_conversion(identifiers=braids), NOW))
    assert (ids.ad_identifiers.gbraid, ids.ad_identifiers.wbraid) == ("gb", "")


def test_braid_conversions_carry_no_user_identifiers(make_conversion):
    """Google refuses user identifiers next to a braid, so they are left out."""
    ids = clicked(48, wbraid="wb", email_sha256=(EMAIL_HASH,))
    event = event_of(destination().prepare(make_conversion(identifiers=ids), NOW))
    assert event.ad_identifiers.wbraid == "wb"
    assert len(event.user_data.user_identifiers) == 0


def test_gclid_conversion_carries_hashed_identifiers_and_consent(make_conversion):
    """Hashed email and phone ride along with the gclid; consent maps to Google's enum."""
    ids = clicked(
        48,
        email_sha256=(EMAIL_HASH.upper(), EMAIL_HASH),
        phone_sha256=(PHONE_HASH,),
        consent_ad_user_data=True,
        consent_ad_personalization=False,
    )
    conversion = make_conversion(identifiers=ids)
    event = event_of(destination().prepare(conversion, NOW))
    assert [u.email_address for u in event.user_data.user_identifiers[:1]] == [EMAIL_HASH]
    assert [u.phone_number for u in event.user_data.user_identifiers[1:]] == [PHONE_HASH]
    assert event.consent.ad_user_data == dm.ConsentStatus.CONSENT_GRANTED
    assert event.consent.ad_personalization == dm.ConsentStatus.CONSENT_DENIED
    assert event.transaction_id == conversion.dedup_key
    assert event.conversion_value == pytest.approx(120.50)
    assert event.currency == "USD"


def test_enhanced_conversion_for_leads_without_click(make_conversion):
    """No click ID but a hashed email: sent with user identifiers only, at most ten."""
    ids = Identifiers(email_sha256=tuple(f"{i:064x}" for i in range(12)))
    event = event_of(destination().prepare(make_conversion(identifiers=ids), NOW))
    assert not event.ad_identifiers.gclid
    assert len(event.user_data.user_identifiers) == 10


def test_click_under_six_hours_waits(make_conversion):
    """A click younger than 6 h: Wait until click + 6 h (TOO_RECENT_EVENT otherwise)."""
    ids = clicked(2)
    result = destination().prepare(
        make_conversion(identifiers=ids, event_time=NOW - timedelta(hours=1)), NOW
    )
    assert isinstance(result, Wait)
    assert result.until == NOW + timedelta(hours=4)


def test_click_older_than_the_window_is_skipped(make_conversion):
    """A click older than click_window_days is skipped as EXPIRED_EVENT."""
    ids = clicked(31 * 24)
    result = destination(click_window_days=30).prepare(make_conversion(identifiers=ids), NOW)
    assert isinstance(result, Skip) and result.code == "EXPIRED_EVENT"
    assert "click_window_days" in result.reason
    assert isinstance(destination().prepare(make_conversion(identifiers=ids), NOW), Prepared)


def test_consent_denied_is_skipped(make_conversion):
    """ad_user_data consent denied: never sent."""
    ids = clicked(48, consent_ad_user_data=False)
    result = destination().prepare(make_conversion(identifiers=ids), NOW)
    assert isinstance(result, Skip) and result.code == "CONSENT_DENIED"


def test_conversion_before_click_is_skipped(make_conversion):
    """A conversion time before its click is skipped (CONVERSION_PRECEDES_CLICK)."""
    ids = clicked(10)
    result = destination().prepare(
        make_conversion(identifiers=ids, event_time=NOW - timedelta(hours=20)), NOW
    )
    assert isinstance(result, Skip) and result.code == "CONVERSION_PRECEDES_CLICK"


def test_no_identifier_is_skipped(make_conversion):
    """Neither a click ID nor a valid hashed identifier: nothing Google could match."""
    ids = Identifiers(email_sha256=("not-a-hash",), fbclid="fb")
    result = destination().prepare(make_conversion(identifiers=ids), NOW)
    assert isinstance(result, Skip) and result.code == "NO_IDENTIFIERS"


@pytest.mark.parametrize(
    "event_time",
    [
        datetime(2026, 11, 19, 14, 0, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 11, 19, 12, 0, tzinfo=UTC),
        datetime(2026, 11, 19, 12, 0),
    ],
    ids=["+02:00", "UTC", "naive"],
)
def test_event_timestamp_is_the_absolute_instant(make_conversion, event_time):
    """Whatever the zone of event_time, the timestamp is the same instant (naive = UTC)."""
    event = event_of(destination().prepare(make_conversion(event_time=event_time), NOW))
    assert event.event_timestamp == datetime(2026, 11, 19, 12, 0, tzinfo=UTC)


def test_conversion_action_from_options_and_group_key(make_conversion):
    """options.conversion_action_id overrides the setting and splits requests by action."""
    adapter = destination()
    default = adapter.prepare(make_conversion(), NOW)
    special = adapter.prepare(make_conversion(options={"conversion_action_id": "42"}), NOW)
    assert isinstance(default, Prepared) and isinstance(special, Prepared)
    assert special.payload.conversion_action_id == "42"
    assert adapter.group_key(default) != adapter.group_key(special)


@pytest.mark.parametrize("kind", ["restatement", "retraction"])
def test_adjustment_without_developer_token_says_what_to_configure(make_conversion, kind):
    """Adjustments need the Google Ads API: skipped with a reason naming developer_token."""
    conversion = make_conversion(kind=kind, adjusts_key="deal-1-won")
    result = destination().prepare(conversion, NOW)
    assert isinstance(result, Skip) and result.code == "DEVELOPER_TOKEN_MISSING"
    assert "platforms.google_ads.developer_token" in result.reason


@pytest.mark.parametrize("token", ["", "   "])
def test_adjustment_with_an_empty_developer_token_is_skipped_too(make_conversion, token):
    """An empty developer token (``${VAR:-}`` unset) is no token: skipped, never sent empty."""
    conversion = make_conversion(kind="restatement", adjusts_key="deal-1-won")
    result = destination(developer_token=token).prepare(conversion, NOW)
    assert isinstance(result, Skip) and result.code == "DEVELOPER_TOKEN_MISSING"


def test_adjustment_outside_the_window_is_skipped(make_conversion):
    """Adjustments of conversions older than adjustment_window_days are skipped."""
    adapter = destination(developer_token="dev-token", adjustment_window_days=30)
    old = make_conversion(kind="restatement", adjusts_key="k", event_time=NOW - timedelta(days=31))
    recent = make_conversion(kind="retraction", adjusts_key="k")
    skipped = adapter.prepare(old, NOW)
    assert isinstance(skipped, Skip) and skipped.code == "CONVERSION_EXPIRED"
    prepared = adapter.prepare(recent, NOW)
    assert isinstance(prepared, Prepared) and prepared.payload.route == "ads_api_adjustment"


def test_allowlisted_api_routes_conversions_to_the_ads_api(make_conversion):
    """api: google_ads sends conversions through the Google Ads API uploader, same rules."""
    adapter = destination(api="google_ads", developer_token="dev-token")
    prepared = adapter.prepare(make_conversion(), NOW)
    assert isinstance(prepared, Prepared) and prepared.payload.route == "ads_api_conversion"
    too_recent = adapter.prepare(make_conversion(identifiers=clicked(1), event_time=NOW), NOW)
    assert isinstance(too_recent, Wait)
