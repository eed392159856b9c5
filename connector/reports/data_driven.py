"""Data-driven credit for reports, learned from our own journeys.

Markov removal effects and Shapley values, applied to the deals a report counts.

Training data, over the trailing ``window_days`` before the range's end:
- converting journeys: each won deal's credited touches (its attribution rows) as a channel
  sequence, worth the deal's amount in the reporting currency;
- non-converting journeys: the session starts of every visitor none of whose touches is
  credited to a won deal (the Markov chain needs them; Shapley only reads converting ones).

A deal's amount is then split over the distinct channels of its own journey in proportion to
the channels' learned shares, and each channel's part equally over its touches, so per-deal
credit sums to the deal's amount and a report can group it by any touch dimension. A journey
whose channels all learned a zero share (a channel never seen converting) is split equally.

A fit is reused for 15 minutes (``REUSE_SECONDS``). Stability: the Markov shares are
recomputed on ``bootstrap`` resamples of the journeys (with
replacement, seeded); the 5th-95th percentile of each channel's share is reported beside it.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.attribution.markov import PathCount, aggregate, removal_effects
from connector.attribution.models import DATA_DRIVEN, MARKOV, SHAPLEY
from connector.attribution.shapley import shapley_values
from connector.storage.models import Attribution, Deal, Touchpoint

__all__ = [
    "DATA_DRIVEN",
    "MARKOV",
    "SHAPLEY",
    "LearnedShares",
    "deal_credit",
    "learn",
    "learned_for",
    "learning_options",
    "training_paths",
    "window",
]


@dataclass(frozen=True)
class LearnedShares:
    """Each channel's share of credit under each data-driven model, and what it was learned on."""

    shares: dict[str, dict[str, float]]
    journeys: int
    converting: int
    order: int
    since: datetime
    until: datetime
    intervals: dict[str, tuple[float, float]]


def training_paths(
    session: Session, since: datetime, until: datetime, fx: Any
) -> tuple[list[PathCount], dict[str, list[str]]]:
    """Journeys to learn from, and each won deal's channel sequence (by deal ID)."""
    won = select(
        Attribution.deal_id, Touchpoint.channel, Touchpoint.visitor_id, Deal.amount * fx
    ).join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
    won = won.join(Deal, Deal.id == Attribution.deal_id).where(
        Deal.is_won.is_(True), Deal.close_time >= since, Deal.close_time < until
    )
    won = won.order_by(Attribution.deal_id, Touchpoint.occurred_at, Touchpoint.id)
    deal_paths: dict[str, list[str]] = defaultdict(list)
    deal_value: dict[str, float] = {}
    converted_visitors: set[str] = set()
    for deal_id, channel, visitor_id, amount in session.execute(won):
        deal_paths[deal_id].append(channel)
        deal_value[deal_id] = float(amount or 0)
        converted_visitors.add(visitor_id)
    paths = [PathCount(tuple(p), 1, deal_value[d], 0) for d, p in deal_paths.items()]
    visits = (
        select(Touchpoint.visitor_id, Touchpoint.channel)
        .where(
            Touchpoint.is_new_session.is_(True),
            Touchpoint.occurred_at >= since,
            Touchpoint.occurred_at < until,
        )
        .order_by(Touchpoint.visitor_id, Touchpoint.occurred_at, Touchpoint.id)
    )
    lost: dict[str, list[str]] = defaultdict(list)
    for visitor_id, channel in session.execute(visits):
        if visitor_id not in converted_visitors:
            lost[visitor_id].append(channel)
    # One PathCount per distinct lost path (with its count), not per visitor: ``aggregate``
    # sums them the same way and in the same first-seen order, so the fit is unchanged, but
    # hundreds of thousands of visitors make a few thousand objects (profiled: building one
    # per visitor was a quarter of model comparison's first call at 1M touchpoints).
    lost_paths: Counter[tuple[str, ...]] = Counter(tuple(p) for p in lost.values())
    paths += [PathCount(p, 0, 0.0, n) for p, n in lost_paths.items()]
    return paths, deal_paths


def learn(
    paths: list[PathCount],
    *,
    order: int,
    bootstrap: int,
    since: datetime,
    until: datetime,
    seed: int = 0,
) -> LearnedShares:
    """Markov and Shapley shares per channel, with bootstrap intervals for the Markov ones.

    A bootstrap resample draws as many journeys as there are from the distinct journeys and
    their outcomes (one multinomial draw), so it costs one chain solve, not a pass over every
    journey.
    """
    distinct = aggregate(paths)
    markov = removal_effects(distinct, order=order).shares(by_value=True)
    converting = [(p.channels, p.value or float(p.conversions)) for p in distinct if p.conversions]
    shapley = shapley_values(converting).shares()
    intervals: dict[str, tuple[float, float]] = {}
    total = sum(p.conversions + p.nulls for p in distinct)
    if bootstrap > 1 and total:
        counts = np.array([[p.conversions, p.nulls] for p in distinct], dtype=float).ravel()
        rng = np.random.default_rng(seed)
        draws: dict[str, list[float]] = defaultdict(list)
        for _ in range(bootstrap):
            drawn = rng.multinomial(total, counts / total).reshape(-1, 2)
            sample = [
                PathCount(p.channels, int(c), p.value * c / p.conversions if c else 0.0, int(n))
                for p, (c, n) in zip(distinct, drawn, strict=True)
                if c or n
            ]
            resampled = removal_effects(sample, order=order).shares(by_value=True)
            for channel in markov:
                draws[channel].append(resampled.get(channel, 0.0))
        for channel, values in draws.items():
            values.sort()
            low = values[int(0.05 * (len(values) - 1))]
            high = values[round(0.95 * (len(values) - 1))]
            intervals[channel] = (low, high)
    return LearnedShares(
        shares={MARKOV: markov, SHAPLEY: shapley},
        journeys=total,
        converting=sum(p.conversions for p in distinct),
        order=order,
        since=since,
        until=until,
        intervals=intervals,
    )


#: How long a fit is reused: reports (a dashboard reload) at most this far behind new journeys.
REUSE_SECONDS = 900.0
_LEARNED: dict[tuple[Any, ...], tuple[Any, float, LearnedShares]] = {}
_LEARNED_MAX = 16


def learned_for(
    session: Session,
    since: datetime,
    until: datetime,
    fx: Any,
    money: tuple[Any, ...],
    *,
    order: int,
    bootstrap: int,
) -> LearnedShares:
    """:func:`learn` over the window's journeys, reused for ``REUSE_SECONDS``.

    Learning reads every journey of the window and solves the chain once per bootstrap
    resample: seconds on a large store, too slow for every dashboard load. The fit is kept
    per database (the engine itself, by weak reference, so a new store never sees another's),
    window, money conversion and model settings.
    """
    bind = session.get_bind()
    key = (str(bind.url), since, until, money, order, bootstrap)
    kept = _LEARNED.get(key)
    now = time.monotonic()
    if kept is not None and kept[0]() is bind and kept[1] > now:
        return kept[2]
    paths, _ = training_paths(session, since, until, fx)
    learned = learn(paths, order=order, bootstrap=bootstrap, since=since, until=until)
    if len(_LEARNED) >= _LEARNED_MAX:
        _LEARNED.pop(next(iter(_LEARNED)))
    _LEARNED[key] = (weakref.ref(bind), now + REUSE_SECONDS, learned)
    return learned


def deal_credit(channels: list[str], shares: dict[str, float]) -> list[Fraction]:
    """Each touch's exact fraction of its deal: channel shares over the journey, equal per touch.

    Exact fractions summing to 1, so ``split_amount`` gives the touches cents that add up to
    the deal's amount.
    """
    distinct = list(dict.fromkeys(channels))
    weights = {c: Fraction(max(shares.get(c, 0.0), 0.0)) for c in distinct}
    total = sum(weights.values(), Fraction(0))
    if total <= 0:
        weights = dict.fromkeys(distinct, Fraction(1))
        total = Fraction(len(distinct))
    per_touch = {c: weights[c] / total / channels.count(c) for c in distinct}
    return [per_touch[c] for c in channels]


def window(until: datetime, days: int) -> tuple[datetime, datetime]:
    """The training window ending at ``until``."""
    return until - timedelta(days=days), until


def learning_options(settings: Any) -> dict[str, int]:
    """``model_comparison`` keyword arguments from ``attribution.data_driven``."""
    learning = settings.attribution.data_driven
    return {
        "window_days": learning.window_days,
        "markov_order": learning.markov_order,
        "bootstrap": learning.bootstrap,
    }
