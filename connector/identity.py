"""Normalising and hashing emails and phones, exactly as the ad platforms require.

Google and Meta both match on SHA-256 hex of the trimmed, lowercased email and of the phone
in E.164. Google additionally strips dots from the local part of gmail.com/googlemail.com
addresses; Meta does not. Matching inside closedloop uses the Google form, which folds the
variants a person may type into one key.
"""

from __future__ import annotations

import hashlib
import re

import phonenumbers

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GMAIL_DOMAINS = {"gmail.com", "googlemail.com"}


def sha256_hex(value: str) -> str:
    """Lowercase hex SHA-256 of a UTF-8 string."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalize_email(email: str | None) -> str | None:
    """Trim and lowercase; None if it does not look like an address."""
    if not email:
        return None
    value = email.strip().lower()
    return value if _EMAIL.match(value) else None


def google_email(email: str | None) -> str | None:
    """Google's form: normalised, and dots removed from gmail local parts."""
    value = normalize_email(email)
    if value is None:
        return None
    local, _, domain = value.partition("@")
    if domain in _GMAIL_DOMAINS:
        local = local.replace(".", "")
    return f"{local}@{domain}"


def email_key(email: str | None) -> str | None:
    """The hash closedloop matches people on (Google form)."""
    value = google_email(email)
    return sha256_hex(value) if value else None


def meta_email_hash(email: str | None) -> str | None:
    """Meta's ``em``: SHA-256 of the trimmed, lowercased address."""
    value = normalize_email(email)
    return sha256_hex(value) if value else None


def normalize_phone(phone: str | None, default_region: str = "US") -> str | None:
    """E.164 (``+14155550123``), or None if it is not a valid number."""
    if not phone:
        return None
    try:
        parsed = phonenumbers.parse(phone.strip(), default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_key(phone: str | None, default_region: str = "US") -> str | None:
    """SHA-256 of the E.164 phone (Google form, with the '+')."""
    value = normalize_phone(phone, default_region)
    return sha256_hex(value) if value else None


def meta_phone_hash(phone: str | None, default_region: str = "US") -> str | None:
    """Meta's ``ph``: SHA-256 of digits only, with country code, no '+'."""
    value = normalize_phone(phone, default_region)
    return sha256_hex(value.lstrip("+")) if value else None
