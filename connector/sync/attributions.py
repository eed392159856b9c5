"""Attribution rows for reports: each credited touch's weight and revenue under every model."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

from connector.attribution import MODELS, weights
from connector.attribution.models import ALL_MODELS, DATA_DRIVEN, TIME_DECAY, time_decay_parts
from connector.attribution.shares import integer_parts, quantum_for, split_units, units_of
from connector.config import Settings
from connector.storage.models import MODEL_COLUMNS
from connector.sync.deals import CheckedDeal
from connector.sync.learned import NOT_LEARNED, LearnedCredit
from connector.sync.match import Journey

WEIGHT_QUANTUM = Decimal("1e-10")
WEIGHT_UNITS = units_of(Decimal(1), WEIGHT_QUANTUM)  # what split_amount(Decimal(1), ...) splits
_ONE = (
    WEIGHT_QUANTUM * WEIGHT_UNITS
)  # a whole weight, as split_units would store it  # what split_amount(Decimal(1), ...) splits
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the column's scale: stored weights still sum to 1


class AttributionRow(NamedTuple):
    """One credited touch of a deal: its weight and revenue under every model.

    Fields are in the ``attributions`` table's column order (``ATTRIBUTION_COLUMNS``), so a row
    goes to the database as it is.
    """

    deal_id: str
    touchpoint_id: int
    currency: str
    first_click_weight: Decimal
    first_click_revenue: Decimal
    last_click_weight: Decimal
    last_click_revenue: Decimal
    linear_weight: Decimal
    linear_revenue: Decimal
    time_decay_weight: Decimal
    time_decay_revenue: Decimal
    position_based_weight: Decimal
    position_based_revenue: Decimal
    markov_weight: Decimal
    markov_revenue: Decimal
    shapley_weight: Decimal
    shapley_revenue: Decimal

    def weight(self, model: str) -> Decimal:
        """The touch's weight under ``model``."""
        return getattr(self, MODEL_COLUMNS[model][0])  # type: ignore[no-any-return]

    def revenue(self, model: str) -> Decimal:
        """The touch's revenue under ``model``."""
        return getattr(self, MODEL_COLUMNS[model][1])  # type: ignore[no-any-return]


ATTRIBUTION_COLUMNS: tuple[str, ...] = AttributionRow._fields


def attribution_rows(
    deal: CheckedDeal,
    journey: Journey,
    settings: Settings,
    learned: LearnedCredit = NOT_LEARNED,
) -> list[AttributionRow]:
    """One row per credited touch; each model's revenue column sums to the deal amount.

    The learned models (Markov, Shapley) split by ``learned``, the run's fit (see
    ``connector.sync.learned``): linear when it could not learn them.

    Touches that take no credit (Direct ones, with ``attribution.ignore_direct``) get no row:
    reports only sum the rows, so rows of zeros would be writes that change no figure. Open
    and lost deals get rows too (the reports count them as opportunities by the same
    weights, and revenue only once won); one without an amount yet carries zero revenue.
    """
    touches = journey.credited_touches(settings.attribution.ignore_direct)
    if not touches:
        return []
    amount = deal.amount if deal.amount is not None else Decimal(0)
    currency = deal.currency or settings.currency
    if len(touches) == 1:  # every model gives the one touch everything
        return [AttributionRow(deal.id, touches[0].id, currency, *(_ONE, amount) * len(ALL_MODELS))]
    close_time = deal.close_time or deal.raw.modified_time
    sign = -1 if amount < 0 else 1  # check_deal refuses negatives; mirror split_amount
    quantum = quantum_for(abs(amount))
    units = units_of(abs(amount), quantum)
    columns: list[list[Decimal]] = []  # weights, revenue, weights, revenue... in model order
    for model in MODELS:
        if model == TIME_DECAY:
            # Integer parts in the weights' exact ratios: split_units gives what split_amount
            # over the Fraction weights would, for the stored weights and the revenue alike.
            parts, total = time_decay_parts(
                [t.time for t in touches], close_time, settings.attribution.half_life_days
            )
            columns.append([WEIGHT_QUANTUM * n for n in split_units(WEIGHT_UNITS, parts, total)])
            columns.append([quantum * (sign * n) for n in split_units(units, parts, total)])
        else:
            # The same split as split_amount(amount, exact); count-only models split each
            # (journey length, amount) once: prices repeat.
            columns.append(_by_count(model, len(touches)))
            columns.append(_count_split(model, len(touches), units, quantum, sign))
    channels = [t.channel for t in touches]
    for model in DATA_DRIVEN:
        # The run's fit gives the parts; split_units gives what split_amount would.
        parts, total = learned.parts(model, channels)
        columns.append([WEIGHT_QUANTUM * n for n in split_units(WEIGHT_UNITS, parts, total)])
        columns.append([quantum * (sign * n) for n in split_units(units, parts, total)])
    rows = []
    for touch, values in zip(touches, zip(*columns, strict=True), strict=True):
        if any(values):  # a touch no model credits (a vanishing time-decay share) is no row
            rows.append(AttributionRow(deal.id, touch.id, currency, *values))
    return rows


@lru_cache(maxsize=4096)
def _count_split(model: str, n: int, units: int, quantum: Decimal, sign: int) -> list[Decimal]:
    """Revenue shares of a count-only model: they depend on the amount and the length only."""
    parts, total = _count_parts(model, n)
    return [quantum * (sign * u) for u in split_units(units, parts, total)]


@lru_cache(maxsize=256)
def _count_parts(model: str, n: int) -> tuple[tuple[int, ...], int]:
    """Integer parts of a model that depends only on the number of touches."""
    return integer_parts(weights(model, [_EPOCH] * n))


@lru_cache(maxsize=256)
def _by_count(model: str, n: int) -> list[Decimal]:
    """Stored weights of a model that depends only on the number of touches."""
    parts, total = _count_parts(model, n)
    return [WEIGHT_QUANTUM * u for u in split_units(WEIGHT_UNITS, parts, total)]


def touch_summary(
    journey: Journey, ignore_direct: bool
) -> tuple[str | None, str | None, str | None, str | None]:
    """First and last credited touch (channel, source) for the deal row."""
    touches = journey.credited_touches(ignore_direct)
    if not touches:
        return None, None, None, None
    first, last = touches[0], touches[-1]
    return first.channel, first.source, last.channel, last.source
