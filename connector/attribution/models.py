"""The attribution models: how much of a conversion each touch of a journey earned.

Weights are exact fractions summing to 1. Time decay halves a touch's weight for every
``half_life_days`` it happened before the close; computed relative to the newest touch so very
old touches underflow to a zero weight instead of breaking the sum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from connector.attribution.shares import Share, split_amount

FIRST, LAST, LINEAR, TIME_DECAY, POSITION = (
    "first_click",
    "last_click",
    "linear",
    "time_decay",
    "position_based",
)
MODELS: tuple[str, ...] = (FIRST, LAST, LINEAR, TIME_DECAY, POSITION)
#: Models learned from the journeys (``connector.reports.data_driven``), not given by a rule:
#: the sync stores them per deal beside the rule-based ones.
MARKOV, SHAPLEY = "markov", "shapley"
DATA_DRIVEN: tuple[str, ...] = (MARKOV, SHAPLEY)
#: Every model a deal's credit is stored, reported and sent under.
ALL_MODELS: tuple[str, ...] = (*MODELS, *DATA_DRIVEN)
#: Position-based: 40 % to the first touch, 40 % to the last, 20 % over the middle.
POSITION_ENDS = Fraction(2, 5)


def _first(n: int) -> list[Fraction]:
    return [Fraction(1) if i == 0 else Fraction(0) for i in range(n)]


def _last(n: int) -> list[Fraction]:
    return [Fraction(1) if i == n - 1 else Fraction(0) for i in range(n)]


def _linear(n: int) -> list[Fraction]:
    return [Fraction(1, n)] * n


def _position(n: int) -> list[Fraction]:
    if n == 1:
        return [Fraction(1)]
    if n == 2:
        return [Fraction(1, 2), Fraction(1, 2)]
    middle = (1 - 2 * POSITION_ENDS) / (n - 2)
    return [POSITION_ENDS, *([middle] * (n - 2)), POSITION_ENDS]


def _decay_factors(
    times: Sequence[datetime], close_time: datetime, half_life_days: float
) -> list[float]:
    ages = [max((close_time - t).total_seconds(), 0.0) / 86400.0 for t in times]
    newest = min(ages)
    return [math.pow(2.0, -(age - newest) / half_life_days) for age in ages]


def _time_decay(
    times: Sequence[datetime], close_time: datetime, half_life_days: float
) -> list[Fraction]:
    raw = [Fraction(f) for f in _decay_factors(times, close_time, half_life_days)]
    total = sum(raw, Fraction(0))
    return [r / total for r in raw]


def time_decay_parts(
    times: Sequence[datetime], close_time: datetime, half_life_days: float
) -> tuple[list[int], int]:
    """Time-decay weights as integers and their sum: ``weights`` is ``part / total`` each.

    The same ratios as :func:`weights` (the factors are floats, so each is an exact integer
    over a power of two), without the Fraction arithmetic; ``split_units`` splits by them.
    """
    if half_life_days <= 0:
        raise ValueError("half_life_days must be positive")
    ratios = [f.as_integer_ratio() for f in _decay_factors(times, close_time, half_life_days)]
    common = max(d for _, d in ratios)  # powers of two: the largest is a multiple of the rest
    parts = [n * (common // d) for n, d in ratios]
    return parts, sum(parts)


_BY_COUNT: dict[str, Callable[[int], list[Fraction]]] = {
    FIRST: _first,
    LAST: _last,
    LINEAR: _linear,
    POSITION: _position,
}


@lru_cache(maxsize=256)
def _count_weights(model: str, n: int) -> tuple[Fraction, ...]:
    """Weights that depend only on the number of touches, computed once per (model, n)."""
    return tuple(_BY_COUNT[model](n))


def weights(
    model: str,
    times: Sequence[datetime],
    *,
    close_time: datetime | None = None,
    half_life_days: float = 7.0,
) -> list[Fraction]:
    """Each touch's weight under ``model``; ``times`` are the touches in time order."""
    if not times:
        return []
    if model == TIME_DECAY:
        if half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        return _time_decay(times, close_time or max(times), half_life_days)
    try:
        return list(_count_weights(model, len(times)))
    except KeyError:
        raise ValueError(
            f"unknown attribution model {model!r} (one of {', '.join(MODELS)})"
        ) from None


def attribute(
    model: str,
    times: Sequence[datetime],
    amount: Decimal,
    *,
    close_time: datetime | None = None,
    half_life_days: float = 7.0,
) -> list[Share]:
    """Weights and revenue per touch; revenues sum to ``amount`` exactly."""
    exact = weights(model, times, close_time=close_time, half_life_days=half_life_days)
    revenue = split_amount(amount, exact)
    return [Share(i, w, r) for i, (w, r) in enumerate(zip(exact, revenue, strict=True))]
