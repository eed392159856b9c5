"""Attribution rows for reports: every model over the deal's journey, weights and revenue."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from connector.attribution import MODELS, split_amount, weights
from connector.attribution.models import TIME_DECAY
from connector.config import Settings
from connector.sync.deals import CheckedDeal
from connector.sync.match import Journey

WEIGHT_QUANTUM = Decimal("1e-10")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the column's scale: stored weights still sum to 1


def attribution_rows(
    deal: CheckedDeal, journey: Journey, settings: Settings
) -> list[dict[str, Any]]:
    """One row per (model, touchpoint); each model's revenue sums to the deal amount."""
    touches = journey.touches
    if not touches or deal.amount is None or deal.currency is None:
        return []
    times = [t.time for t in touches]
    rows: list[dict[str, Any]] = []
    for model in MODELS:
        if model == TIME_DECAY:
            exact = weights(
                model,
                times,
                close_time=deal.close_time,
                half_life_days=settings.attribution.half_life_days,
            )
            stored = split_amount(Decimal(1), exact, WEIGHT_QUANTUM)
        else:
            exact, stored = _by_count(model, len(times))
        revenue = split_amount(deal.amount, exact)
        for touch, weight, money in zip(touches, stored, revenue, strict=True):
            rows.append(
                {
                    "deal_id": deal.id,
                    "model": model,
                    "touchpoint_id": touch.id,
                    "weight": weight,
                    "revenue": money,
                    "currency": deal.currency,
                }
            )
    return rows


@lru_cache(maxsize=256)
def _by_count(model: str, n: int) -> tuple[list[Fraction], list[Decimal]]:
    """Exact and stored weights of models that depend only on the number of touches."""
    exact = weights(model, [_EPOCH] * n)
    return exact, split_amount(Decimal(1), exact, WEIGHT_QUANTUM)


def touch_summary(journey: Journey) -> tuple[str | None, str | None, str | None, str | None]:
    """First and last touch (channel, source) for the deal row."""
    if not journey.touches:
        return None, None, None, None
    first, last = journey.touches[0], journey.touches[-1]
    return first.channel, first.source, last.channel, last.source
