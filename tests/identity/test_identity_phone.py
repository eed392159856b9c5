"""Phones normalise to E.164 however the international prefix is written.

Oracles: libphonenumber on the number's canonical ``+`` form, Google's guide's example, Meta's SDK
``Normalize``.
"""

from __future__ import annotations

import phonenumbers
import pytest
from facebook_business.adobjects.serverside.normalize import Normalize

from connector.identity import meta_phone_hash, normalize_phone, phone_key, sha256_hex

#: (as written, default region, the same number written canonically with "+").
WRITTEN = [
    ("(800)555-0100", "US", "+1 800 555 0100"),  # Google's formatting guide's example
    ("0044 20 7946 0958", "US", "+44 20 7946 0958"),  # the case: 00, not the US 011
    ("00 44 20 7946 0958", "US", "+44 20 7946 0958"),
    ("(00)44 20 7946 0958", "US", "+44 20 7946 0958"),
    ("001 415 555 0123", "US", "+1 415 555 0123"),  # 00 + the default region's own code
    ("0049 30 901820", "US", "+49 30 901820"),
    ("00 33 1 42 68 53 00", "US", "+33 1 42 68 53 00"),
    ("0061 2 9374 4000", "US", "+61 2 9374 4000"),
    ("011 44 20 7946 0958", "US", "+44 20 7946 0958"),  # the US's own IDD
    ("+44 20 7946 0958", "US", "+44 20 7946 0958"),
    ("+44 (0)20 7946 0958", "US", "+44 20 7946 0958"),  # UK habit: trunk 0 in brackets
    ("415.555.0123", "US", "+1 415 555 0123"),
    ("1-415-555-0123", "US", "+1 415 555 0123"),
    ("+1 (415) 555-0123 ext. 12", "US", "+1 415 555 0123"),
    ("  +14155550123  ", "US", "+1 415 555 0123"),
    ("020 7946 0958", "GB", "+44 20 7946 0958"),
    ("0044 20 7946 0958", "GB", "+44 20 7946 0958"),  # 00 is GB's own IDD
    ("001 415 555 0123", "GB", "+1 415 555 0123"),
    ("030 901820", "DE", "+49 30 901820"),
    ("00 1 (415) 555-0123", "DE", "+1 415 555 0123"),
    ("0011 61 2 9374 4000", "AU", "+61 2 9374 4000"),  # Australia's IDD
    ("010 44 20 7946 0958", "JP", "+44 20 7946 0958"),  # Japan's IDD
    ("0044 20 7946 0958", "JP", "+44 20 7946 0958"),
]

UNPARSEABLE = [
    ("12345", "US"),
    ("not a phone", "US"),
    ("555-0123", "US"),  # no area code
    ("00", "US"),
    ("0000 000 0000", "US"),
    ("0044 12", "US"),  # 00 read as international, still too short
    ("+999 123 4567", "US"),  # no such country code
    ("", "US"),
    ("   ", "US"),
]


def canonical(plus_form: str) -> str:
    """E.164 by libphonenumber for the number written with '+', where no prefix is in doubt."""
    parsed = phonenumbers.parse(plus_form, None)
    assert phonenumbers.is_valid_number(parsed)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@pytest.mark.parametrize(("written", "region", "plus_form"), WRITTEN)
def test_every_international_prefix_gives_the_same_e164(written: str, region: str, plus_form: str):
    """However it is written, the number is the E.164 libphonenumber gives its '+' form."""
    expected = canonical(plus_form)
    assert normalize_phone(written, region) == expected
    assert phone_key(written, region) == sha256_hex(expected)


def test_googles_published_example():
    """Google's guide: the US number (800)555-0100 is formatted +18005550100."""
    assert normalize_phone("(800)555-0100", "US") == "+18005550100"


@pytest.mark.parametrize(("written", "region"), UNPARSEABLE)
def test_unparseable_phones_are_dropped(written: str, region: str):
    """A number libphonenumber cannot validate is not sent (no hash of garbage)."""
    assert normalize_phone(written, region) is None
    assert phone_key(written, region) is None
    assert meta_phone_hash(written, region) is None


@pytest.mark.parametrize(("written", "region", "plus_form"), WRITTEN)
def test_meta_accepts_our_form_unchanged(written: str, region: str, plus_form: str):
    """Meta's SDK normalises closedloop's ``ph`` input to itself: digits with country code."""
    digits = normalize_phone(written, region).lstrip("+")  # type: ignore[union-attr]
    assert Normalize.normalize_field_skip_hashing("ph", digits) == digits
    assert meta_phone_hash(written, region) == Normalize.normalize_field("ph", digits)


@pytest.mark.parametrize(
    "written",
    ["+44 20 7946 0958", "0044 20 7946 0958", "00 44 20 7946 0958", "+1 (415) 555-0123"],
)
def test_international_forms_hash_as_metas_sdk_does(written: str):
    """Where a number is written internationally, Meta's own normaliser is the expected side.

    Its rule (drop a leading '+' or '00') is the one closedloop applies to '00' numbers.
    """
    assert meta_phone_hash(written, "US") == Normalize.normalize_field("ph", written)
