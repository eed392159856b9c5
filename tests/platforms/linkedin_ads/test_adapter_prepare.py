"""LinkedInAdsDestination.prepare and its declarations: age, identifiers, hashing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from platforms.base import ClickId, Identifiers, Prepared, Skip, Wait
from platforms.linkedin_ads.adapter import LinkedInAdsDestination
from platforms.linkedin_ads.hashing import LINKEDIN_HASHING

#: ``printf 'buyer@example.com' | sha256sum``.
EMAIL_HASH = "6a6c26195c3682faa816966af789717c3bfa834eee6c599d667d2b3429c27cfd"
#: ``printf 'john.doe+promo@gmail.com' | sha256sum``: LinkedIn folds no Gmail dots or tags.
GMAIL_TAGGED_HASH = "80f9126efd0446cb338c54ea6fe3d4af8fa3fe93db0024b14150441550e632a2"


@pytest.fixture
def destination(li_settings):
    """A destination on sandbox settings (prepare never touches the network)."""
    return LinkedInAdsDestination(li_settings)


def test_element_has_linkedins_shape(destination, make_conversion, now):
    """URN, epoch milliseconds, eventId, both user IDs, and the amount as a string."""
    conversion = make_conversion()
    prepared = destination.prepare(conversion, now)
    assert isinstance(prepared, Prepared)
    assert prepared.payload == {
        "conversion": "urn:lla:llaPartnerConversion:104906",
        "conversionHappenedAt": int((now - timedelta(hours=1)).timestamp()) * 1000,
        "eventId": conversion.dedup_key,
        "user": {
            "userIds": [
                {"idType": "SHA256_EMAIL", "idValue": EMAIL_HASH},
                {
                    "idType": "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID",
                    "idValue": "5a9c7d2e-3f41-4b8a-9e06-1c2d3e4f5a6b",
                },
            ]
        },
        "conversionValue": {"currencyCode": "USD", "amount": "1500.5"},
    }


def test_amount_is_a_plain_decimal_string(destination, make_conversion, now):
    """Never a float, an exponent or the store's padding: 1E+3 goes as "1000"."""
    prepared = destination.prepare(make_conversion(value=Decimal("1E+3"), currency="eur"), now)
    assert prepared.payload["conversionValue"] == {"currencyCode": "EUR", "amount": "1000"}
    padded = destination.prepare(make_conversion(value=Decimal("2500.7500")), now)
    assert padded.payload["conversionValue"]["amount"] == "2500.75"


def test_zero_value_sends_no_conversion_value(destination, make_conversion, now):
    """A rule without a value (a lead) carries no conversionValue at all."""
    prepared = destination.prepare(make_conversion(value=Decimal("0"), currency=""), now)
    assert "conversionValue" not in prepared.payload


def test_invalid_currency_is_skipped(destination, make_conversion, now):
    """A value with a currency LinkedIn cannot read is never sent."""
    result = destination.prepare(make_conversion(currency="US$"), now)
    assert isinstance(result, Skip) and result.code == "invalid_currency"


def test_mapping_option_names_its_own_rule(destination, make_conversion, now):
    """``conversion_id`` from the mapping event overrides the section's default rule."""
    prepared = destination.prepare(make_conversion(options={"conversion_id": "55"}), now)
    assert prepared.payload["conversion"] == "urn:lla:llaPartnerConversion:55"
    bad = destination.prepare(make_conversion(options={"conversion_id": "rule-x"}), now)
    assert isinstance(bad, Skip) and bad.code == "invalid_conversion_rule"


@pytest.mark.parametrize(
    ("identifiers", "types"),
    [
        (Identifiers(email_sha256=(EMAIL_HASH,)), ["SHA256_EMAIL"]),
        (
            Identifiers(click=ClickId("li_fat_id", "abc-123")),
            ["LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"],
        ),
        # Only one email per event; an unhashed value never leaves.
        (Identifiers(email_sha256=("not-a-hash", EMAIL_HASH, GMAIL_TAGGED_HASH)), ["SHA256_EMAIL"]),
    ],
)
def test_user_ids_from_what_is_known(destination, make_conversion, now, identifiers, types):
    """Each identifier LinkedIn matches on becomes one userIds entry."""
    prepared = destination.prepare(make_conversion(identifiers=identifiers), now)
    user_ids = prepared.payload["user"]["userIds"]
    assert [u["idType"] for u in user_ids] == types
    if types == ["SHA256_EMAIL"]:
        assert user_ids[0]["idValue"] == EMAIL_HASH


def test_nothing_to_match_on_is_skipped(destination, make_conversion, now):
    """Another platform's click or no identifier at all: LinkedIn could match no one."""
    ids = Identifiers(click=ClickId("fbclid", "IwAR0abc"), phone_sha256=(EMAIL_HASH,))
    result = destination.prepare(make_conversion(identifiers=ids), now)
    assert isinstance(result, Skip) and result.code == "no_user_ids"


def test_consent_denied_is_skipped(destination, make_conversion, now):
    """No per-event consent field at LinkedIn: a denial means the event is not sent."""
    ids = Identifiers(email_sha256=(EMAIL_HASH,), consent_ad_user_data=False)
    result = destination.prepare(make_conversion(identifiers=ids), now)
    assert isinstance(result, Skip) and result.code == "consent_denied"


def test_age_window(destination, make_conversion, now):
    """89 days is sent; 90 days (less the send margin) is skipped; the future waits."""
    ok = destination.prepare(make_conversion(event_time=now - timedelta(days=89)), now)
    assert isinstance(ok, Prepared)
    old = destination.prepare(make_conversion(event_time=now - timedelta(days=90)), now)
    assert isinstance(old, Skip) and old.code == "event_too_old"
    later = now + timedelta(hours=2)
    wait = destination.prepare(make_conversion(event_time=later), now)
    assert isinstance(wait, Wait) and wait.until == later


def test_adjustments_are_skipped(destination, make_conversion, now):
    """LinkedIn has no restatement or retraction API."""
    result = destination.prepare(make_conversion(kind="retraction"), now)
    assert isinstance(result, Skip) and result.code == "unsupported_adjustment"


def test_declarations(li_settings, now):
    """Everything planning needs is declared; the age limit is LinkedIn's 90 days."""
    cls = LinkedInAdsDestination
    assert cls.undeclared() == []
    assert cls.max_batch == 5000
    assert cls.click_kinds == ("li_fat_id",)
    assert cls.kinds == frozenset({"conversion"})
    assert set(cls.identified_by) == {"email_sha256", "li_fat_id"}
    fits = cls.too_old(
        li_settings, "conversion", event_time=now - timedelta(days=89), click_time=None, now=now
    )
    assert fits is None
    assert cls.too_old(
        li_settings, "conversion", event_time=now - timedelta(days=91), click_time=None, now=now
    )
    assert "2026-08-22" in cls.horizon(li_settings, now)


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("buyer@example.com", EMAIL_HASH),
        ("  Buyer@Example.COM \n", EMAIL_HASH),
        ("john.doe+promo@gmail.com", GMAIL_TAGGED_HASH),
        ("+promo@gmail.com", None),
        ("two words@example.com", None),
        ("", None),
    ],
)
def test_email_hashing_trims_and_lowercases_only(email, expected):
    """SHA-256 of the trimmed, lower-cased address, checked against hashes made by sha256sum."""
    assert LINKEDIN_HASHING.email(email) == expected


def test_phones_never_leave():
    """LinkedIn takes no phone user ID."""
    assert LINKEDIN_HASHING.phone("+14155550123", "US") is None
    assert LINKEDIN_HASHING.max_phones == 0
