"""Emails hash exactly as Google's and Meta's own normalisers say (the oracles, not our code).

Google's side is ``google-ads-datamanager-util``'s ``Formatter`` (the Data Manager formatting
guide in code); Meta's is the ``Normalize`` class its ``facebook_business`` SDK hashes
``user_data`` with. A row the oracle refuses (``ValueError``/``TypeError``) must not be sent.
"""

from __future__ import annotations

import pytest
from facebook_business.adobjects.serverside.normalize import Normalize
from google.ads.datamanager_util import Encoding, Formatter
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.identity import email_key, google_email, meta_email_hash, normalize_email

GOOGLE = Formatter()

#: Realistic and awkward addresses: what forms, CRMs and people actually hold.
ADDRESSES = [
    "john.doe+promo@gmail.com",  # the example: the +tag goes, the dots go
    "cloudy.sanfrancisco+shopping@gmail.com",  # Google's guide's example
    "user.name+NYC@Example.com",  # Google's guide's example: not Gmail, kept
    "John.Doe@Gmail.com",
    "JOHN.DOE+Promo@GoogleMail.COM",
    "j.o.h.n@googlemail.com",
    "john+a+b@gmail.com",  # everything after the first +
    "john.doe+@gmail.com",  # an empty tag
    "first.last+tag@gmail.co.uk",  # not gmail.com: kept as typed
    "first.last+tag@mail.gmail.com",  # a subdomain is not gmail.com
    "john.doe@gmail.com.",  # trailing dot: not gmail.com either
    "user+tag@outlook.com",
    "  jane.doe@example.com  ",
    "\tJane.Doe@Example.COM\n",
    "\u00a0nbsp@example.com\u00a0",  # no-break spaces around a pasted address
    "JANE.DOE@EXAMPLE.COM",
    "O'Brien@example.ie",
    "first_last-1@sub.example.co.uk",
    '"quoted"@example.com',
    "Jörg.Müller@Beispiel.de",
    "ÉLODIE@exemple.fr",
    "josé.garcía+ventas@gmail.com",  # unicode in a Gmail local part
    "用户@例子.广告",  # IDN as Unicode: hashed as typed, not punycoded
    "user@xn--bcher-kva.example",  # IDN as punycode
    "+promo@gmail.com",  # empty local part after the tag goes: not sent
    "...@gmail.com",  # empty after the dots go
    ".+x@googlemail.com",
    "john doe@example.com",  # inner whitespace
    "john@exa mple.com",
    "johnexample.com",  # missing @
    "john@@example.com",  # two @
    "a@b@example.com",
    "@example.com",  # empty local part
    "john@",  # empty domain
    "",
    "   ",
]


def google_oracle(address: str) -> str | None:
    """What Google's formatter makes of the address; None where it refuses it."""
    try:
        return GOOGLE.format_email_address(address)
    except ValueError:
        return None


def meta_oracle(address: str) -> str | None:
    """The normalised (unhashed) ``em`` Meta's SDK builds; None where it refuses it."""
    try:
        return Normalize.normalize_field_skip_hashing("em", address)
    except TypeError:
        return None


def test_the_table_is_large_and_has_both_outcomes():
    """At least 30 rows, some the oracle accepts and some it refuses (so each test can fail)."""
    outcomes = [google_oracle(a) for a in ADDRESSES]
    assert len(ADDRESSES) >= 30
    assert sum(o is None for o in outcomes) >= 8
    assert sum(o is not None for o in outcomes) >= 20


@pytest.mark.parametrize("address", ADDRESSES)
def test_google_form_is_the_formatters(address: str):
    """Google's form and closedloop's person key are what Google's formatter produces."""
    expected = google_oracle(address)
    assert google_email(address) == expected
    if expected is None:
        assert email_key(address) is None
    else:
        assert email_key(address) == GOOGLE.process_email_address(address, Encoding.HEX)


@pytest.mark.parametrize("address", ADDRESSES)
def test_meta_form_is_metas_sdks(address: str):
    """Meta's ``em`` is what Meta's SDK hashes, for every address Google would send too.

    Addresses Google refuses (inner whitespace, two @, a Gmail local part that is only a tag)
    name no inbox Meta could match either, so closedloop sends them nowhere.
    """
    if google_oracle(address) is None:
        assert meta_email_hash(address) is None
        return
    expected = meta_oracle(address)
    assert normalize_email(address) == expected
    if expected is not None:
        assert meta_email_hash(address) == Normalize.normalize_field("em", address)


@pytest.mark.parametrize("address", ["user@localhost", "user@.com", "user@example."])
def test_undotted_domains_are_dropped_as_meta_does(address: str):
    """Google's formatter would hash these; Meta's SDK refuses them; closedloop sends neither.

    One key serves both platforms and person matching, so an address one platform refuses
    as not an address is not used for the other.
    """
    assert google_oracle(address) is not None
    assert meta_oracle(address) is None
    assert email_key(address) is None
    assert meta_email_hash(address) is None


def test_gmail_variants_share_one_key():
    """The variants one Gmail user types fold into one key, as Google's formatter folds them."""
    variants = ["john.doe+promo@gmail.com", "JohnDoe@Gmail.com", " j.o.h.n.d.o.e+x@GMAIL.com "]
    expected = GOOGLE.process_email_address("johndoe@gmail.com", Encoding.HEX)
    assert {email_key(v) for v in variants} == {expected}
    assert len({meta_email_hash(v) for v in variants}) == 3  # Meta hashes them as typed


_ADDRESSY = st.text(alphabet=st.sampled_from("aAzZ09.+_-@ \t\u00e9\u00df"), max_size=24)
_GMAILISH = st.builds(
    lambda local, domain, pad: f"{pad}{local}@{domain}{pad}",
    st.text(alphabet=st.sampled_from("aB.+_-9é"), max_size=12),
    st.sampled_from(["gmail.com", "GMail.com", "googlemail.com", "gmail.co", "example.com"]),
    st.sampled_from(["", " ", "\t"]),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_ADDRESSY, _GMAILISH, st.emails()))
def test_any_string_gives_the_formatters_answer(address: str):
    """Beyond the table: the formatter's output, or nothing where it or Meta's SDK refuses."""
    expected = google_oracle(address)
    if expected is not None and meta_oracle(expected) is None:
        expected = None  # an undotted domain (see test_undotted_domains_are_dropped_as_meta_does)
    assert google_email(address) == expected
