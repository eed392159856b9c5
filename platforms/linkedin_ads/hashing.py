"""How LinkedIn wants emails before they are hashed (``idType: SHA256_EMAIL``).

LinkedIn asks for the SHA-256 hex of the address trimmed and lower-cased, with nothing else
folded (no Gmail dot or ``+tag`` rules); like every platform here it gets nothing for an
address that names no inbox (``+promo@gmail.com``). It takes no phone number as a user ID,
so none is hashed for it, and one email per event (``userIds`` holds one ID of each type).
"""

from __future__ import annotations

from connector.identity import google_email, normalize_email, sha256_hex
from platforms.base import Hashing


def email_hash(email: str) -> str | None:
    """SHA-256 hex of the trimmed, lower-cased address; None if it is not one address."""
    value = normalize_email(email)
    return sha256_hex(value) if value and google_email(value) else None


def no_phone(phone: str, region: str) -> str | None:
    """LinkedIn has no phone user ID: phones never leave for it."""
    return None


LINKEDIN_HASHING = Hashing("linkedin", email=email_hash, phone=no_phone, max_emails=1, max_phones=0)
