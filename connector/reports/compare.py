"""Model comparison: revenue per channel (or other grouping) under every attribution model.

One GROUP BY with a revenue sum per model instead of five source reports, with the same
crediting as the source report's revenue column: attributed shares of deals won in the range,
and won deals without a journey on the ``(no journey)`` row. Beside the five rule-based models,
the data-driven ones (``connector.reports.data_driven``: Markov removal effects and Shapley
values, learned from the trailing window's journeys), with what they were learned on, how far
each group's revenue moves from last click, and how stable each channel's learned share is.
The data-driven columns are learned here over the window ending at the range's end (what the
models say of the range now); ``model=markov`` in the source report reads instead each deal's
credit as the sync stored it (``connector.sync.learned``), learned when the deal was last read.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.attribution.models import MODELS  # the rule-based five; learned ones below
from connector.attribution.shares import integer_parts, quantum_for, split_units, units_of
from connector.reports.data_driven import (
    DATA_DRIVEN,
    deal_credit,
    learned_for,
    window,
)
from connector.reports.sources import (
    NO_JOURNEY,
    ReportRange,
    fx_factor,
    has_journey,
    plan_for_reports,
    touch_dimension,
    won_between,
)
from connector.storage.models import Attribution, Deal, Touchpoint, model_revenue

CENT = Decimal("0.01")
#: A learned share whose bootstrap 5-95 % interval is wider than this is flagged as unstable.
WIDE_INTERVAL = 0.10


def model_comparison(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    currency: str = "USD",
    fx_rates: dict[str, Decimal] | None = None,
    window_days: int = 180,
    markov_order: int = 1,
    bootstrap: int = 10,
) -> dict[str, Any]:
    """One row per group with its revenue under each model, side by side."""
    dim = touch_dimension(by)
    fx = fx_factor(Deal.currency, currency, fx_rates or {})
    plan_for_reports(session)
    won = won_between(rng)
    table: dict[str, dict[str, Decimal]] = {}

    def add(group: str, model: str, amount: Any) -> None:
        values = table.setdefault(group, {m: Decimal(0) for m in (*MODELS, *DATA_DRIVEN)})
        values[model] += Decimal(amount or 0)

    attributed = (
        select(dim, *(func.sum(model_revenue(m) * fx) for m in MODELS))
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(won)
        .group_by(dim)
    )
    for group, *revenues in session.execute(attributed):
        for model, revenue in zip(MODELS, revenues, strict=True):
            add(group, model, revenue)
    # Won deals without a journey: the same deals under every model.
    orphans = select(func.count(), func.sum(Deal.amount * fx)).where(won, ~has_journey())
    count, unattributed = session.execute(orphans).one()
    if count:
        for model in (*MODELS, *DATA_DRIVEN):
            add(NO_JOURNEY, model, unattributed)
    money = (currency, tuple(sorted((fx_rates or {}).items())))
    learned = _data_driven(session, rng, dim, fx, money, add, window_days, markov_order, bootstrap)

    rows = [
        {
            "group": group,
            "revenue": {m: v.quantize(CENT) for m, v in values.items()},
            "moved_from_last_click": {
                m: (values[m] - values["last_click"]).quantize(CENT) for m in DATA_DRIVEN
            },
        }
        for group, values in table.items()
    ]
    rows.sort(key=lambda r: (max(r["revenue"].values()), r["group"]), reverse=True)
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "by": by,
        "currency": currency,
        "models": [*MODELS, *DATA_DRIVEN],
        "data_driven": learned,
        "rows": rows,
    }


def _split(amount: Decimal, parts: tuple[int, ...], total: int) -> list[Decimal]:
    """``split_amount(amount, weights)`` for weights already as integer parts (same result)."""
    if amount < 0:
        return [-part for part in _split(-amount, parts, total)]
    quantum = quantum_for(amount)
    return [quantum * n for n in split_units(units_of(amount, quantum), parts, total)]


def _data_driven(
    session: Session,
    rng: ReportRange,
    dim: Any,
    fx: Any,
    money: tuple[Any, ...],
    add: Any,
    window_days: int,
    order: int,
    bootstrap: int,
) -> dict[str, Any]:
    """Learn the data-driven shares, credit the range's won deals by them, describe the fit."""
    since, until = window(rng.until, window_days)
    learned = learned_for(session, since, until, fx, money, order=order, bootstrap=bootstrap)
    touches = (
        select(Attribution.deal_id, dim, Touchpoint.channel, Deal.amount * fx)
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(won_between(rng))
        .order_by(Attribution.deal_id, Touchpoint.occurred_at, Touchpoint.id)
    )
    deals: dict[str, list[tuple[str, str, Decimal]]] = {}
    for deal_id, group, channel, amount in session.execute(touches):
        deals.setdefault(deal_id, []).append((group, channel, Decimal(amount or 0)))
    # A touch's fraction depends only on its journey's channel sequence: the range's deals
    # share a few hundred sequences, so each is worked out (in exact fractions) once, and
    # only the integer split of each deal's own amount is left per deal (profiled: the
    # per-deal Fraction arithmetic was most of this report's time at 100k deals).
    parts_of: dict[tuple[str, tuple[str, ...]], tuple[tuple[int, ...], int]] = {}
    # Summed here per (group, model) and handed to ``add`` once each: Decimal sums are exact,
    # so the order does not change them, and a call per touch was a tenth of this report.
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for rows in deals.values():
        channels = tuple(channel for _, channel, _ in rows)
        amount = rows[0][2]
        for model in DATA_DRIVEN:
            key = (model, channels)
            if key not in parts_of:
                parts_of[key] = integer_parts(deal_credit(list(channels), learned.shares[model]))
            revenue = _split(amount, *parts_of[key])
            for (group, _, _), part in zip(rows, revenue, strict=True):
                sums[(group, model)] += part
    for (group, model), amount in sums.items():
        add(group, model, amount)
    stability = {
        channel: {
            "share": round(learned.shares["markov"].get(channel, 0.0), 4),
            "low": round(low, 4),
            "high": round(high, 4),
            "wide": high - low > WIDE_INTERVAL,
        }
        for channel, (low, high) in sorted(learned.intervals.items())
    }
    return {
        "window": {"from": since.isoformat(), "to": until.isoformat()},
        "markov_order": order,
        "journeys": learned.journeys,
        "converting_journeys": learned.converting,
        "shares": {m: dict(sorted(v.items())) for m, v in learned.shares.items()},
        "stability": stability,
        "bootstrap_resamples": bootstrap,
    }
