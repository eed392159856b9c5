"""Email and phone hashes for one page of deals, each computed once.

Matching and every destination hash the same contacts (and a contact often has several
deals), so SHA-256 plus normalisation would otherwise run five times per address. The memo
lives for one page only: the sync clears it after each page, so no address outlives the page
in memory (``closedloop forget`` must not be undone by a cache).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from functools import lru_cache

from connector import identity
from connector.identity import (
    email_key,
    legacy_email_key,
    meta_email_hash,
    meta_phone_hash,
    phone_key,
)
from platforms.base import Hashing
from platforms.crm import CrmContact

PAGE_MEMO = 8192

google_email = lru_cache(maxsize=PAGE_MEMO)(email_key)
legacy_email = lru_cache(maxsize=PAGE_MEMO)(legacy_email_key)
meta_email = lru_cache(maxsize=PAGE_MEMO)(meta_email_hash)
google_phone = lru_cache(maxsize=PAGE_MEMO)(phone_key)
meta_phone = lru_cache(maxsize=PAGE_MEMO)(meta_phone_hash)


@lru_cache(maxsize=PAGE_MEMO)
def phone_hashes(phone: str | None, region: str) -> tuple[str | None, str | None]:
    """(``phone_key``, ``meta_phone_hash``) of one number: libphonenumber parses it once."""
    value = identity.normalize_phone(phone, region)
    if not value:
        return None, None
    return identity.sha256_hex(value), identity.sha256_hex(value.lstrip("+"))


EmailHash = Callable[[str], str | None]
PhoneHash = Callable[[str, str], str | None]
#: Per hashing scheme a destination declares: its email and phone hashers, page-memoised.
_SCHEMES: dict[str, tuple[EmailHash, PhoneHash]] = {}


#: The page memos above, by the function they memoise: a scheme declaring one of these
#: functions shares its memo, so Google's email hash, which matching has just computed for
#: every contact of the page, is a memo hit when planning asks for it again.
_SHARED: dict[object, object] = {
    email_key: google_email,
    meta_email_hash: meta_email,
    phone_key: google_phone,
    meta_phone_hash: meta_phone,
}


def memoised(declared: Hashing) -> tuple[EmailHash, PhoneHash]:
    """The declared scheme's email and phone hashers, each address hashed once per page.

    Keyed by ``scheme``: destinations declaring the same scheme share one memo, and a scheme
    declaring a function memoised above shares that memo.
    """
    pair = _SCHEMES.get(declared.scheme)
    if pair is None:
        pair = (
            _SHARED.get(declared.email) or lru_cache(maxsize=PAGE_MEMO)(declared.email),
            _SHARED.get(declared.phone) or lru_cache(maxsize=PAGE_MEMO)(declared.phone),
        )  # type: ignore[assignment]
        _SCHEMES[declared.scheme] = pair
    return pair


#: Why a contact's email or phone is sent to no platform (the sync summary counts them).
EMAIL_DROPPED = "email: not an address Google or Meta can match"
PHONE_DROPPED = "phone: not a valid number (tracking.default_phone_region for national forms)"


def dropped(contacts: Iterable[CrmContact], region: str) -> Counter[str]:
    """The contacts' emails and phones that normalise to nothing, by reason.

    They are left out of every platform's identifiers (a hash of garbage matches no one);
    counting them tells the user why match rates are lower than the CRM suggests. Memo hits:
    planning has hashed the same values already.
    """
    reasons: Counter[str] = Counter()
    for contact in contacts:
        if contact.email and google_email(contact.email) is None:
            reasons[EMAIL_DROPPED] += 1
        if contact.phone and phone_hashes(contact.phone, region)[0] is None:
            reasons[PHONE_DROPPED] += 1
    return reasons


def forget() -> None:
    """Drop every memoised address (end of a page)."""
    for memo in (google_email, legacy_email, meta_email, google_phone, meta_phone, phone_hashes):
        memo.cache_clear()
    for email, phone in _SCHEMES.values():
        email.cache_clear()  # type: ignore[attr-defined]
        phone.cache_clear()  # type: ignore[attr-defined]
