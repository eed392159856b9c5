"""What a posted sale must look like, checked field by field into a normalised sale.

Every problem names its field, so a caller can fix its body; a sale with any problem is not
stored at all (all or nothing per sale). The normalised form is what is stored and hashed: the
same sale sent twice, however its numbers were spelled, has the same digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import pycountry

from connector.config.models import SOURCE_NAME
from connector.sync.deals import is_iso_currency, parse_time
from connector.sync.match import CRM_CLICK_KINDS

#: Statuses that take a sale back: the conversion is retracted where the platform can.
RETRACTING = ("refunded", "cancelled")
#: Longest order ID: the deal ID ``revenue:<source>:<order_id>`` must fit 64 characters.
MAX_ORDER_ID = 40
#: The largest amount ``Numeric(18, 4)`` holds.
MAX_VALUE = Decimal("99999999999999.9999")
FIELDS = (
    "order_id",
    "value",
    "currency",
    "time",
    "source",
    "email",
    "phone",
    "crm_contact_id",
    "visitor_id",
    "click_ids",
    "status",
)
#: Every ISO 4217 code (pycountry's table), for the OpenAPI document.
CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies)
_SOURCE = re.compile(SOURCE_NAME)
_ORDER = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
_VISITOR = re.compile(r"^[A-Za-z0-9_.-]{8,64}$")  # as the tracking snippet makes them
_KEY_SAFE = re.compile(r"^[A-Za-z0-9_.]+$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,255}$")


@dataclass(frozen=True)
class FieldError:
    """One bad field of a sale: its path in the body and what is wrong."""

    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """As the API answers it."""
        return {"field": self.field, "message": self.message}


def deal_id(source: str, order_id: str) -> str:
    """The deal the sale becomes: the order ID, namespaced by its source.

    Dedup keys write every character outside ``A-Za-z0-9_.`` as ``_``, so ``A-1`` and ``A/1``
    would share one: an order ID with such characters is named by its hash instead (its
    deal's name still shows it), which no two order IDs share.
    """
    if _KEY_SAFE.match(order_id):
        return f"revenue:{source}:{order_id}"
    return f"revenue:{source}:~{hashlib.sha256(order_id.encode()).hexdigest()[:32]}"


def pipeline(source: str) -> str:
    """The pipeline a source's sales are reported under."""
    return f"revenue:{source}"


def check_sale(raw: Any, default_source: str) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """The normalised sale, or every field that is wrong (paths relative to the sale)."""
    if not isinstance(raw, dict):
        return None, [FieldError("", "must be an object")]
    errors = [FieldError(k, "unknown field") for k in raw if k not in FIELDS]
    sale: dict[str, Any] = {}
    checks = (
        ("order_id", _order_id, True),
        ("value", _value, True),
        ("currency", _currency, True),
        ("time", _time, True),
        ("source", _source, False),
        ("email", _email, False),
        ("phone", _phone, False),
        ("crm_contact_id", _token, False),
        ("visitor_id", _visitor, False),
        ("click_ids", _click_ids, False),
        ("status", _status, False),
    )
    for name, check, required in checks:
        value = raw.get(name)
        if value is None:
            if required:
                errors.append(FieldError(name, "is required"))
            continue
        result, message = check(value)
        if message is not None:
            errors.append(FieldError(name, message))
        elif result is not None:
            sale[name] = result
    if errors:
        return None, errors
    sale.setdefault("source", default_source)
    return sale, []


def digest(sale: dict[str, Any]) -> str:
    """The hash of the normalised sale: equal for a repeat, different for any change."""
    return hashlib.sha256(json.dumps(sale, sort_keys=True).encode()).hexdigest()


Check = tuple[Any, str | None]


def _order_id(value: Any) -> Check:
    if isinstance(value, float) and value.is_integer() and 0 <= value < 1e15:
        value = int(value)  # JSON's 100.0 is the integer 100
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, "must be a string"
    text = str(value)
    if not 1 <= len(text) <= MAX_ORDER_ID or not _ORDER.match(text):
        return None, f"must be 1 to {MAX_ORDER_ID} printable characters without spaces"
    return text, None


def _value(value: Any) -> Check:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, "must be a number"
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None, "must be a number"
    if not amount.is_finite():
        return None, "must be a finite number"
    if amount < 0:
        return None, "must not be negative (send status refunded to take a sale back)"
    if amount > MAX_VALUE:
        return None, f"must be at most {MAX_VALUE}"
    return str(amount.quantize(Decimal("0.0001"))), None


def _currency(value: Any) -> Check:
    if not isinstance(value, str):
        return None, "must be a string"
    code = value.strip().upper()
    if len(code) != 3 or not is_iso_currency(code):
        return None, "must be an ISO 4217 currency code"
    return code, None


def _time(value: Any) -> Check:
    if not isinstance(value, str) or len(value) > 40:
        return None, "must be an ISO 8601 date-time"
    try:
        at = parse_time(value)
    except (ValueError, OverflowError, OSError):
        return None, "must be an ISO 8601 date-time"
    if at is None:
        return None, "must be an ISO 8601 date-time"
    return at.isoformat(), None


def _source(value: Any) -> Check:
    if not isinstance(value, str) or not _SOURCE.match(value):
        return None, "must be 1 to 15 of a-z and 0-9"
    return value, None


def _email(value: Any) -> Check:
    if not isinstance(value, str) or len(value) > 320 or "@" not in value:
        return None, "must be an email address"
    return value.strip(), None


def _phone(value: Any) -> Check:
    if not isinstance(value, str) or not 1 <= len(value) <= 32:
        return None, "must be a phone number (E.164 preferred)"
    return value.strip(), None


def _token(value: Any) -> Check:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None, "must be a string"
    text = str(value)
    if len(text) > 64 or not _TOKEN.match(text):
        return None, "must be 1 to 64 printable characters"
    return text, None


def _visitor(value: Any) -> Check:
    if not isinstance(value, str) or not _VISITOR.match(value):
        return None, "must be a closedloop visitor ID (8 to 64 of A-Z, a-z, 0-9, _ . -)"
    return value, None


def _click_ids(value: Any) -> Check:
    if not isinstance(value, dict):
        return None, "must be an object"
    kinds = ", ".join(CRM_CLICK_KINDS)
    clicks: dict[str, str] = {}
    for kind, click in value.items():
        if kind not in CRM_CLICK_KINDS:
            return None, f"{kind[:40]!r} is not one of {kinds}"
        if not isinstance(click, str) or not _TOKEN.match(click):
            return None, f"{kind} must be 1 to 255 printable characters"
        clicks[kind] = click
    return clicks or None, None


def _status(value: Any) -> Check:
    if value not in RETRACTING:
        return None, f"must be one of {', '.join(RETRACTING)} (or absent for a sale)"
    return value, None
