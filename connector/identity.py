"""Normalising and hashing emails and phones, exactly as the ad platforms require.

Google (Data Manager formatting guide,
developers.google.com/data-manager/api/devguides/concepts/formatting): trim, refuse inner
whitespace, lowercase, exactly one ``@`` with a non-empty local part and domain; for
gmail.com and googlemail.com also drop a ``+tag`` and every dot from the local part (an
address whose local part is then empty is not sent). Phones in E.164 with the ``+``.
``google-ads-datamanager-util``'s ``Formatter`` implements the same email rules and is the
tests' oracle; it is not used at runtime because importing it pulls in Tink and Cloud KMS
(for its encryption helper) to run a dozen lines of string handling, and its phone
formatting only strips non-digits, so it cannot add a country code.

Meta (Conversions API customer information parameters, and the ``Normalize`` class of its
``facebook_business`` SDK, the tests' oracle on Meta's side) differs from Google:

- email: trim and lowercase only. Gmail dots and ``+tags`` are kept: Meta hashes the address
  as typed, so folding it would hash an address Meta never saw.
- phone: digits only with the country code, no ``+`` (Google keeps the ``+``).

closedloop's own person key is the Google form: it folds the variants one person types into
one key (``john.doe+promo@gmail.com`` and ``johndoe@gmail.com`` are the same inbox).

Both forms accept an address only if its domain has a dot between characters (Meta's SDK
refuses others; Google's formatter would hash ``user@localhost``, which matches no one).
"""

from __future__ import annotations

import hashlib
import re

import phonenumbers

_WHITESPACE = re.compile(r"\s")
_DOTTED_DOMAIN = re.compile(r".+\..+")
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
#: "00" dialled first: the ITU-recommended international prefix, used in most of the world
#: (and by people abroad writing numbers for a site whose default region dials 011).
_LEADING_00 = re.compile(r"^[\s(]*0[\s.\-)]*0[\s.\-)]*(?=[1-9])")


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256 of a UTF-8 string."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _split_address(email: str | None) -> tuple[str, str] | None:
    """(local part, domain) trimmed and lowercased, or None if it is not one address."""
    if not email:
        return None
    value = email.strip()
    if not value or _WHITESPACE.search(value):
        return None  # inner whitespace: two words, not an address (Google's formatter agrees)
    parts = value.lower().split("@")
    if len(parts) != 2:
        return None
    local, domain = parts
    if not local or not _DOTTED_DOMAIN.fullmatch(domain):
        return None
    return local, domain


def normalize_email(email: str | None) -> str | None:
    """Trimmed and lowercased (Meta's form, and what is kept as the plain address), or None."""
    parts = _split_address(email)
    return None if parts is None else f"{parts[0]}@{parts[1]}"


def google_email(email: str | None) -> str | None:
    """Google's form: normalised; for Gmail, without the ``+tag`` and the dots; else None."""
    parts = _split_address(email)
    return None if parts is None else _google_form(*parts)


def _google_form(local: str, domain: str) -> str | None:
    """:func:`google_email` of an address already split by :func:`_split_address`."""
    if domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            return None  # "+promo@gmail.com" names no inbox: Google says not to send it
    return f"{local}@{domain}"


def email_key(email: str | None) -> str | None:
    """The hash closedloop matches people on, and sends to Google (Google form)."""
    value = google_email(email)
    return sha256_hex(value) if value else None


def legacy_email_key(email: str | None) -> str | None:
    """The key written before migration 0006, where it differs from :func:`email_key`.

    Keys then removed Gmail dots but kept a ``+tag``. 0006 re-keyed every person whose address
    was stored; a person whose address was not (only its hash was kept) still holds this key,
    so matching, identify and forget look it up too. None when the key did not change.
    """
    parts = _split_address(email)
    if parts is None or parts[1] not in _GMAIL_DOMAINS or "+" not in parts[0]:
        return None
    return sha256_hex(f"{parts[0].replace('.', '')}@{parts[1]}")


def meta_email_hash(email: str | None) -> str | None:
    """Meta's ``em``: SHA-256 of the trimmed, lowercased address (no Gmail folding).

    Only for an address Google would send too: ``+promo@gmail.com`` names no inbox, for Meta
    no more than for Google.
    """
    parts = _split_address(email)  # split once: the Google check reads the same parts
    if parts is None or _google_form(*parts) is None:
        return None
    return sha256_hex(f"{parts[0]}@{parts[1]}")


def _valid(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_valid_number(parsed) else None


def normalize_phone(phone: str | None, default_region: str = "US") -> str | None:
    """E.164 (``+14155550123``), or None if it is not a valid number.

    libphonenumber knows only the default region's own international prefix (``011`` for the
    US), so ``0044 20 7946 0958`` read as a US number is garbage. A number that is not valid
    as written and starts with ``00`` is read again with that ``00`` as the international
    prefix, which is what the writer meant (Meta's normaliser strips it the same way).
    """
    if not phone:
        return None
    text = phone.strip()
    parsed = _valid(text, default_region)
    if parsed is None and _LEADING_00.match(text):
        parsed = _valid(_LEADING_00.sub("+", text, count=1), default_region)
    if parsed is None:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_key(phone: str | None, default_region: str = "US") -> str | None:
    """SHA-256 of the E.164 phone (Google form, with the '+')."""
    value = normalize_phone(phone, default_region)
    return sha256_hex(value) if value else None


def meta_phone_hash(phone: str | None, default_region: str = "US") -> str | None:
    """Meta's ``ph``: SHA-256 of digits only, with country code, no '+' (Google keeps it)."""
    value = normalize_phone(phone, default_region)
    return sha256_hex(value.lstrip("+")) if value else None
