"""Attribution rows for reports: every model over the deal's journey, weights and revenue."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from connector.attribution import MODELS, weights
from connector.attribution.models import TIME_DECAY, time_decay_parts
from connector.attribution.shares import integer_parts, quantum_for, split_units, units_of
from connector.config import Settings
from connector.sync.deals import CheckedDeal
from connector.sync.match import Journey

WEIGHT_QUANTUM = Decimal("1e-10")
WEIGHT_UNITS = units_of(Decimal(1), WEIGHT_QUANTUM)  # what split_amount(Decimal(1), ...) splits
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the column's scale: stored weights still sum to 1


def attribution_rows(
    deal: CheckedDeal, journey: Journey, settings: Settings
) -> list[dict[str, Any]]:
    """One row per (model, credited touchpoint); each model's revenue sums to the deal amount.

    Touches that take no credit (Direct ones, with ``attribution.ignore_direct``, and every
    touch but one under first/last click) get no row: reports only sum the rows, so rows of
    zeros would be writes that change no figure. Open and lost deals get rows
    too (the reports count them as opportunities by the same weights, and revenue only once
    won); one without an amount yet carries zero revenue.
    """
    touches = journey.credited_touches(settings.attribution.ignore_direct)
    if not touches:
        return []
    amount = deal.amount if deal.amount is not None else Decimal(0)
    currency = deal.currency or settings.currency
    close_time = deal.close_time or deal.raw.modified_time
    times = [t.time for t in touches]
    sign = -1 if amount < 0 else 1  # check_deal refuses negatives; mirror split_amount
    quantum = quantum_for(abs(amount))
    units = units_of(abs(amount), quantum)
    rows: list[dict[str, Any]] = []
    for model in MODELS:
        if model == TIME_DECAY:
            # Integer parts in the weights' exact ratios: split_units gives what split_amount
            # over the Fraction weights would, for the stored weights and the revenue alike.
            parts, total = time_decay_parts(times, close_time, settings.attribution.half_life_days)
            stored = [WEIGHT_QUANTUM * n for n in split_units(WEIGHT_UNITS, parts, total)]
        else:
            stored, parts, total = _by_count(model, len(times))
        # The same split as split_amount(amount, exact), with the parts of count-only models
        # computed once per journey length instead of once per deal.
        revenue = [quantum * (sign * n) for n in split_units(units, parts, total)]
        for touch, weight, money in zip(touches, stored, revenue, strict=True):
            if not weight and not money:
                continue  # no credit, no row: first/last click would otherwise store n-1 zeros
            rows.append(
                {
                    "deal_id": deal.id,
                    "model": model,
                    "touchpoint_id": touch.id,
                    "weight": weight,
                    "revenue": money,
                    "currency": currency,
                }
            )
    return rows


@lru_cache(maxsize=256)
def _by_count(model: str, n: int) -> tuple[list[Decimal], tuple[int, ...], int]:
    """Stored weights and integer parts of models that depend only on the number of touches."""
    parts, total = integer_parts(weights(model, [_EPOCH] * n))
    return [WEIGHT_QUANTUM * u for u in split_units(WEIGHT_UNITS, parts, total)], parts, total


def touch_summary(
    journey: Journey, ignore_direct: bool
) -> tuple[str | None, str | None, str | None, str | None]:
    """First and last credited touch (channel, source) for the deal row."""
    touches = journey.credited_touches(ignore_direct)
    if not touches:
        return None, None, None, None
    first, last = touches[0], touches[-1]
    return first.channel, first.source, last.channel, last.source
