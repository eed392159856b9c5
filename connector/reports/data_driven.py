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
from functools import partial
from typing import Any

import numpy as np
from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from connector.attribution.markov import PathCount, aggregate, removal_effects
from connector.attribution.models import DATA_DRIVEN, MARKOV, SHAPLEY
from connector.attribution.shapley import shapley_values
from connector.reports.concurrent import begun
from connector.reports.sources import plan_for_reports
from connector.storage.models import Attribution, Deal, Touchpoint

__all__ = [
    "DATA_DRIVEN",
    "MARKOV",
    "SHAPLEY",
    "LearnedShares",
    "deal_credit",
    "grouped_training_paths",
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


#: Rows read per fetch while streaming the training journeys (a server-side cursor on
#: PostgreSQL), so learning holds distinct paths, not the window's rows, in memory.
STREAM_ROWS = 10_000


def training_paths(session: Session, since: datetime, until: datetime, fx: Any) -> list[PathCount]:
    """Journeys to learn from, summed per distinct path (won, then lost, in first-seen order).

    Both reads are streamed in journey order and each journey is folded into its path's sums
    as soon as it ends, so memory grows with the number of distinct paths (and the set of
    converted visitors), not with the window's deals and visits: the sync learns this fit
    on every run that splits a deal, over up to a million journeys. The sums are added in
    the same order ``aggregate`` would add per-journey rows, so the fit is unchanged.
    """
    won = select(
        Attribution.deal_id, Touchpoint.channel, Touchpoint.visitor_id, Deal.amount * fx
    ).join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
    won = won.join(Deal, Deal.id == Attribution.deal_id).where(
        Deal.is_won.is_(True), Deal.close_time >= since, Deal.close_time < until
    )
    won = won.order_by(Attribution.deal_id, Touchpoint.occurred_at, Touchpoint.id)
    won_sums: dict[tuple[str, ...], list[Any]] = {}
    converted_visitors: set[str] = set()

    def fold_won(path: list[str], value: float) -> None:
        entry = won_sums.setdefault(tuple(path), [0, 0.0])
        entry[0] += 1
        entry[1] += value

    current: str | None = None
    path: list[str] = []
    value = 0.0
    for deal_id, channel, visitor_id, amount in _streamed(session, won):
        if deal_id != current:
            if current is not None:
                fold_won(path, value)
            current, path = deal_id, []
        path.append(channel)
        value = float(amount or 0)
        converted_visitors.add(visitor_id)
    if current is not None:
        fold_won(path, value)
    paths = [PathCount(p, n, v, 0) for p, (n, v) in won_sums.items()]
    visits = (
        select(Touchpoint.visitor_id, Touchpoint.channel)
        .where(
            Touchpoint.is_new_session.is_(True),
            Touchpoint.occurred_at >= since,
            Touchpoint.occurred_at < until,
        )
        .order_by(Touchpoint.visitor_id, Touchpoint.occurred_at, Touchpoint.id)
    )
    lost: Counter[tuple[str, ...]] = Counter()
    current = None
    path = []
    for visitor_id, channel in _streamed(session, visits):
        if visitor_id != current:
            if path:
                lost[tuple(path)] += 1
            current, path = visitor_id, []
        if visitor_id not in converted_visitors:
            path.append(channel)
    if path:
        lost[tuple(path)] += 1
    paths += [PathCount(p, 0, 0.0, n) for p, n in lost.items()]
    return paths


def grouped_training_paths(
    session: Session, since: datetime, until: datetime, fx: Any
) -> list[PathCount]:
    """:func:`training_paths`, with the journeys grouped into paths by PostgreSQL.

    For reports (``learned_for``): streaming every session start of the window into Python was
    most of model comparison's first call (cProfile on bench/reports.py: ~8 s at 1M
    touchpoints, in fetching and row building). On PostgreSQL each journey's channels are one
    ``array_agg`` and the journeys are grouped by that array, so only the distinct paths come
    back; the lost paths run on a connection of their own (``begun``) while the won ones are
    read. The result is the same list: paths in first-seen order (lowest deal ID, then lowest
    visitor ID, as the journey-ordered streams meet them) and each won path's value summed
    in deal order, as floats, like ``fold_won``. Elsewhere :func:`training_paths` runs.
    """
    if session.get_bind().dialect.name != "postgresql":
        return training_paths(session, since, until, fx)
    lost_paths = begun(session, partial(_lost_paths, since=since, until=until))
    channels = aggregate_order_by(Touchpoint.channel, Touchpoint.occurred_at, Touchpoint.id)
    journeys = (
        select(
            Attribution.deal_id.label("deal_id"),
            func.array_agg(channels).label("path"),
            func.max(Deal.amount * fx).label("value"),
        )
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(*_won_in(since, until))
        .group_by(Attribution.deal_id)
        .subquery("won_journeys")
    )
    first = func.min(journeys.c.deal_id).label("first_deal")
    won = (
        select(
            journeys.c.path,
            func.count(),
            func.array_agg(aggregate_order_by(journeys.c.value, journeys.c.deal_id)),
            first,
        )
        .group_by(journeys.c.path)
        .order_by(first)
    )
    paths = []
    for path, count, values, _ in session.execute(won):
        total = 0.0
        for value in values:
            total += float(value or 0)
        paths.append(PathCount(tuple(path), int(count), total, 0))
    return paths + lost_paths()


def _won_in(since: datetime, until: datetime) -> tuple[Any, ...]:
    return (Deal.is_won.is_(True), Deal.close_time >= since, Deal.close_time < until)


def _lost_paths(session: Session, *, since: datetime, until: datetime) -> list[PathCount]:
    """Session-start paths of visitors with no touch in a won journey, counted per path."""
    plan_for_reports(session)
    credited = aliased(Touchpoint)
    converted = (
        select(credited.visitor_id)
        .select_from(Attribution)
        .join(credited, credited.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(*_won_in(since, until), credited.visitor_id == Touchpoint.visitor_id)
    )
    channels = aggregate_order_by(Touchpoint.channel, Touchpoint.occurred_at, Touchpoint.id)
    per_visitor = (
        select(
            func.min(Touchpoint.visitor_id).label("visitor_id"),
            func.array_agg(channels).label("path"),
        )
        .where(
            Touchpoint.is_new_session.is_(True),
            Touchpoint.occurred_at >= since,
            Touchpoint.occurred_at < until,
            ~exists(converted),
        )
        # Grouping needs equality only: bytewise, without the locale's collation rules.
        .group_by(Touchpoint.visitor_id.collate("C"))
        .subquery("lost_journeys")
    )
    first = func.min(per_visitor.c.visitor_id).label("first_visitor")
    lost = (
        select(per_visitor.c.path, func.count(), first).group_by(per_visitor.c.path).order_by(first)
    )
    return [PathCount(tuple(path), 0, 0.0, int(n)) for path, n, _ in session.execute(lost)]


def _streamed(session: Session, statement: Any) -> Any:
    """The statement's rows fetched ``STREAM_ROWS`` at a time, never all at once."""
    return session.execute(statement.execution_options(yield_per=STREAM_ROWS))


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
    paths = grouped_training_paths(session, since, until, fx)
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
