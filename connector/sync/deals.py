"""Turning a CRM deal's raw values into checked ones, and deciding what changed since last time.

Bad data never raises: it becomes a skip reason stored on the deal and counted, so one broken
deal cannot stop a sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

import pycountry

from platforms.crm import CrmDeal

MISSING_AMOUNT = "missing_amount"
UNPARSEABLE_AMOUNT = "unparseable_amount"
NEGATIVE_AMOUNT = "negative_amount"
BELOW_MINIMUM = "below_minimum"
UNKNOWN_CURRENCY = "unknown_currency"
MISSING_CLOSE_DATE = "missing_close_date"
UNPARSEABLE_CLOSE_DATE = "unparseable_close_date"
NO_CONTACTS = "no_contacts"


@dataclass(frozen=True)
class Problem:
    """Why a deal cannot be planned: a stable code and a human explanation (no PII)."""

    code: str
    detail: str

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True)
class CheckedDeal:
    """A deal with parsed values, or the first problem that stops it from being planned."""

    raw: CrmDeal
    is_won: bool
    amount: Decimal | None
    currency: str | None
    close_time: datetime | None
    problem: Problem | None

    @property
    def id(self) -> str:
        """The CRM's deal ID."""
        return self.raw.id


def is_iso_currency(code: str) -> bool:
    """Whether ``code`` is an ISO 4217 currency (pycountry's table)."""
    return pycountry.currencies.get(alpha_3=code) is not None


def parse_amount(raw: str | None) -> tuple[Decimal | None, Problem | None]:
    """A non-negative Decimal, or why not."""
    if raw is None or not str(raw).strip():
        return None, Problem(MISSING_AMOUNT, "the deal has no amount")
    text = str(raw).strip().replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None, Problem(UNPARSEABLE_AMOUNT, f"amount {text[:40]!r} is not a number")
    if not value.is_finite():
        return None, Problem(UNPARSEABLE_AMOUNT, f"amount {text[:40]!r} is not a number")
    if value < 0:
        return None, Problem(NEGATIVE_AMOUNT, f"amount {value} is negative")
    return value, None


def recurring_amount(raw: str | None) -> Decimal | None:
    """The deal's recurring amount, or None: never a reason to hold a deal back.

    It only feeds the reports' MRR, so a blank, malformed or negative value is left out
    rather than blocking the deal's conversions.
    """
    value, problem = parse_amount(raw)
    return None if problem else value


def parse_currency(raw: str | None, default: str) -> tuple[str | None, Problem | None]:
    """An ISO 4217 code; a blank value means the account's default currency.

    HubSpot leaves the currency blank on single-currency accounts, so blank is not an error.
    """
    code = (raw or "").strip().upper() or default.upper()
    if len(code) != 3 or not is_iso_currency(code):
        return None, Problem(UNKNOWN_CURRENCY, f"currency {code[:12]!r} is not ISO 4217")
    return code, None


def parse_time(raw: str | None) -> datetime | None:
    """ISO 8601 (date or date-time, 'Z' allowed) or epoch milliseconds, as aware UTC."""
    if raw is None or not str(raw).strip():
        return None
    text = str(raw).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def parse_close_time(raw: str | None) -> tuple[datetime | None, Problem | None]:
    """The close time, or why there is none."""
    if raw is None or not str(raw).strip():
        return None, Problem(MISSING_CLOSE_DATE, "the deal has no close date")
    try:
        return parse_time(raw), None
    except (ValueError, OverflowError, OSError):
        return None, Problem(UNPARSEABLE_CLOSE_DATE, f"close date {str(raw)[:40]!r} is invalid")


def check_deal(
    deal: CrmDeal, *, is_won: bool, default_currency: str, minimum_value: Decimal
) -> CheckedDeal:
    """Parse and validate the values planning needs; the first problem found wins."""
    amount, amount_problem = parse_amount(deal.amount)
    currency, currency_problem = parse_currency(deal.currency, default_currency)
    close_time, close_problem = parse_close_time(deal.close_date)
    problem = amount_problem or currency_problem or close_problem
    if problem is None and amount is not None and amount < minimum_value:
        problem = Problem(BELOW_MINIMUM, f"amount {amount} is below minimum_value {minimum_value}")
    if problem is None and not deal.contacts:
        problem = Problem(NO_CONTACTS, "the deal has no associated contacts")
    return CheckedDeal(deal, is_won, amount, currency, close_time, problem)


@dataclass(frozen=True)
class PriorState:
    """What the previous sync stored about a deal."""

    is_won: bool
    stage: str | None
    sent_amount: Decimal | None
    sent_currency: str | None


NEW_WON, RESTATE, RETRACT, UNCHANGED = "new_won", "restate", "retract", "unchanged"


def won_change(deal: CheckedDeal, prior: PriorState | None) -> str:
    """How the deal's closed-won state moved since conversions were last planned.

    ``sent_amount`` is set when conversions are planned, so "never planned" (including after a
    crash before the page committed) is always a new win, and a deal planned before whose
    amount or currency differs now needs restating.
    """
    planned = prior is not None and prior.sent_amount is not None
    if not deal.is_won:
        return RETRACT if planned else UNCHANGED
    if not planned:
        return NEW_WON
    assert prior is not None
    if deal.problem is not None:
        return UNCHANGED
    if deal.amount != prior.sent_amount or deal.currency != prior.sent_currency:
        return RESTATE
    return UNCHANGED
