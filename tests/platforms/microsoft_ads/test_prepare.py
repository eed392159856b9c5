"""``prepare``: Microsoft's rules before anything is sent (ages, identifiers, hashing)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from platforms.base import RESTATEMENT, RETRACTION, Prepared, Skip, Wait
from platforms.microsoft_ads.adapter import MicrosoftAdsDestination
from platforms.microsoft_ads.hashing import MICROSOFT_HASHING
from platforms.microsoft_ads.settings import MicrosoftAdsSettings

from .conftest import CLICK, NOW

# SHA-256 of the normalised forms, computed outside our code (sha256sum):
#   printf '%s' 'buyer.name+promo@gmail.com' | sha256sum
#   printf '%s' '+14155550123' | sha256sum
EMAIL_HASH = "fb561482d92a221cab65a80a99872d603be2338f063efa279ce6686a5f9cd6f9"
PHONE_HASH = "36a2cef4ff9bf7a1abd2a93359136b870393be4106e6c5d19b72ff564f9deca4"


@pytest.fixture
def dest() -> MicrosoftAdsDestination:
    """Offline settings: prepare never talks to anyone."""
    return MicrosoftAdsDestination(
        MicrosoftAdsSettings(conversion_name="closedloop_deal_won", enhanced_conversions=True)
    )


def test_email_is_trimmed_and_lowercased_without_gmail_folding() -> None:
    assert MICROSOFT_HASHING.email("  Buyer.Name+promo@Gmail.COM ") == EMAIL_HASH


def test_phone_is_hashed_in_e164_with_plus() -> None:
    assert MICROSOFT_HASHING.phone("(415) 555-0123", "US") == PHONE_HASH
    assert MICROSOFT_HASHING.phone("not a phone", "US") is None


def test_one_email_and_one_phone_per_conversion() -> None:
    assert (MICROSOFT_HASHING.max_emails, MICROSOFT_HASHING.max_phones) == (1, 1)
    assert MICROSOFT_HASHING.scheme == "microsoft_ads"


def test_declarations_are_complete() -> None:
    assert MicrosoftAdsDestination.undeclared() == []
    assert MicrosoftAdsDestination.max_batch == 1000
    assert MicrosoftAdsDestination.click_kinds == ("msclkid",)


def test_conversion_payload(dest, make) -> None:
    prepared = dest.prepare(make(), NOW)
    assert isinstance(prepared, Prepared)
    fields = prepared.payload.fields
    assert prepared.payload.operation == "conversions"
    assert fields["MicrosoftClickId"] == CLICK
    assert fields["ConversionName"] == "closedloop_deal_won"
    assert fields["ConversionValue"] == 1200.0
    assert fields["ConversionCurrencyCode"] == "USD"
    assert fields["ConversionTime"] == (NOW - timedelta(days=1)).replace(microsecond=0)
    assert "HashedEmailAddress" not in fields  # the click is enough


def test_mapping_option_names_the_goal(dest, make) -> None:
    prepared = dest.prepare(make(options={"conversion_name": "Signed contract"}), NOW)
    assert prepared.payload.fields["ConversionName"] == "Signed contract"


def test_conversion_time_is_whole_seconds_so_adjustments_match(dest, make) -> None:
    moment = NOW - timedelta(days=1, microseconds=654321)
    prepared = dest.prepare(make(event_time=moment), NOW)
    assert prepared.payload.fields["ConversionTime"].microsecond == 0


def test_click_older_than_90_days_is_skipped(dest, make) -> None:
    row = make(click_time=NOW - timedelta(days=90, minutes=1), event_time=NOW - timedelta(days=5))
    outcome = dest.prepare(row, NOW)
    assert isinstance(outcome, Skip) and outcome.code == "CLICK_TOO_OLD"
    fresh = make(click_time=NOW - timedelta(days=89, hours=23), event_time=NOW - timedelta(days=5))
    assert isinstance(dest.prepare(fresh, NOW), Prepared)


def test_too_old_uses_the_click_else_the_conversion() -> None:
    settings = MicrosoftAdsSettings()
    old = NOW - timedelta(days=91)
    assert MicrosoftAdsDestination.too_old(
        settings, "conversion", event_time=NOW, click_time=old, now=NOW
    )
    assert MicrosoftAdsDestination.too_old(
        settings, RESTATEMENT, event_time=old, click_time=None, now=NOW
    )
    assert (
        MicrosoftAdsDestination.too_old(
            settings, "conversion", event_time=NOW, click_time=NOW - timedelta(days=89), now=NOW
        )
        is None
    )


def test_conversion_before_its_click_is_skipped(dest, make) -> None:
    row = make(click_time=NOW - timedelta(days=1), event_time=NOW - timedelta(days=2))
    outcome = dest.prepare(row, NOW)
    assert isinstance(outcome, Skip) and outcome.code == "CONVERSION_PRECEDES_CLICK"


def test_future_conversion_waits(dest, make) -> None:
    outcome = dest.prepare(make(event_time=NOW + timedelta(hours=1)), NOW)
    assert isinstance(outcome, Wait)


def test_no_click_no_hash_is_skipped(dest, make) -> None:
    outcome = dest.prepare(make(click=None), NOW)
    assert isinstance(outcome, Skip) and outcome.code == "NO_IDENTIFIERS"


def test_hashes_only_with_enhanced_conversions(make) -> None:
    row = make(click=None, email_sha256=(EMAIL_HASH,), phone_sha256=(PHONE_HASH,))
    off = MicrosoftAdsDestination(MicrosoftAdsSettings(conversion_name="g"))
    skipped = off.prepare(row, NOW)
    assert isinstance(skipped, Skip) and "enhanced_conversions" in skipped.reason
    on = MicrosoftAdsDestination(
        MicrosoftAdsSettings(conversion_name="g", enhanced_conversions=True)
    )
    fields = on.prepare(row, NOW).payload.fields
    assert fields["HashedEmailAddress"] == EMAIL_HASH
    assert fields["HashedPhoneNumber"] == PHONE_HASH
    assert "MicrosoftClickId" not in fields


def test_consent_denied_is_skipped(dest, make) -> None:
    outcome = dest.prepare(make(consent_ad_user_data=False), NOW)
    assert isinstance(outcome, Skip) and outcome.code == "CONSENT_DENIED"


def test_goal_is_required(make) -> None:
    outcome = MicrosoftAdsDestination(MicrosoftAdsSettings()).prepare(make(), NOW)
    assert isinstance(outcome, Skip) and outcome.code == "NO_CONVERSION_NAME"
    assert "platforms.microsoft_ads.conversion_name" in outcome.reason


def test_bad_currency_is_skipped(dest, make) -> None:
    outcome = dest.prepare(make(currency="dollars"), NOW)
    assert isinstance(outcome, Skip) and outcome.code == "INVALID_CURRENCY"


def test_restatement_names_the_original_conversion(dest, make) -> None:
    original_time = NOW - timedelta(days=1)
    prepared = dest.prepare(
        make(kind=RESTATEMENT, value="900", adjusts_key="cl-1", event_time=original_time), NOW
    )
    fields = prepared.payload.fields
    assert prepared.payload.operation == "adjustments"
    assert fields["AdjustmentType"] == "Restate"
    assert fields["ConversionTime"] == original_time.replace(microsecond=0)
    assert fields["AdjustmentTime"] == NOW
    assert (fields["AdjustmentValue"], fields["AdjustmentCurrencyCode"]) == (900.0, "USD")


def test_retraction_has_no_value(dest, make) -> None:
    fields = dest.prepare(make(kind=RETRACTION, adjusts_key="cl-1"), NOW).payload.fields
    assert fields["AdjustmentType"] == "Retract"
    assert "AdjustmentValue" not in fields and "AdjustmentCurrencyCode" not in fields


def test_conversions_and_adjustments_never_share_a_request(dest, make) -> None:
    a = dest.prepare(make(), NOW)
    b = dest.prepare(make(kind=RETRACTION, adjusts_key="cl-1"), NOW)
    assert dest.group_key(a) != dest.group_key(b)
    assert MicrosoftAdsDestination.groups_requests
