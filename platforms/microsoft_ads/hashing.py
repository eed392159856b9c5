"""How Microsoft Advertising wants emails and phones before they are hashed.

``HashedEmailAddress`` / ``HashedPhoneNumber`` of an offline conversion are SHA-256 hex of the
trimmed, lowercased address (no Gmail dot folding) and of the phone in E.164 with its ``+``.
The primitives live in ``connector.identity``; this is the declaration.
"""

from __future__ import annotations

from connector.identity import normalize_email, normalize_phone, sha256_hex
from platforms.base import Hashing


def email_hash(email: str) -> str | None:
    """SHA-256 of the trimmed, lowercased address, or None for something that is not one."""
    value = normalize_email(email)
    return sha256_hex(value) if value else None


def phone_hash(phone: str, default_region: str = "US") -> str | None:
    """SHA-256 of the E.164 number (``+14155550123``), or None if it is not a valid number."""
    value = normalize_phone(phone, default_region)
    return sha256_hex(value) if value else None


#: One email and one phone per conversion: the API has a single field for each.
MICROSOFT_HASHING = Hashing(
    "microsoft_ads", email=email_hash, phone=phone_hash, max_emails=1, max_phones=1
)
