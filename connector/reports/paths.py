"""Conversion paths: the channel sequences that led to won deals or to leads.

Like GA4's path exploration, a path is the channels of the journey's touches in time order
with **consecutive duplicates collapsed** (Paid Search, Paid Search, Email, Paid Search is
"Paid Search > Email > Paid Search"), so the number of visits does not split one path into
many. The journey is:

- for a **won deal** (closed in the range), the touches the sync credited for it (its
  ``attributions`` rows: the contacts' visits in the lookback window; with
  ``attribution.ignore_direct`` Direct visits are left out unless there is nothing else,
  GA4's "last non-direct click"); won deals without a journey are counted apart;
- for a **lead** (in the range), its visitor's sessions up to the lead, with the same Direct
  rule; leads without any visit are counted apart.

Each path has its count, its share of the counted conversions, its revenue (deals; in the
reporting currency, currencies without a rate left out) and the median days from the path's
first touch to the conversion. ``channel=X`` keeps only the conversions whose credit under
``model`` goes, wholly or in part, to channel X (for first and last click that is the one
credited touch); a deal path then also shows ``credited_revenue``, the part X earned.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from connector.attribution import MODELS, weights
from connector.attribution.direct import DIRECT_CHANNEL, credited, is_direct
from connector.reports.sources import (
    ReportRange,
    fx_factor,
    has_journey,
    plan_for_reports,
    won_between,
)
from connector.storage.models import Attribution, Deal, Lead, Touchpoint, model_weight

TARGETS = ("deal", "lead")
#: The models a path's credited channel can be read under (the attribution rows' columns).
PATH_MODELS = MODELS
SEPARATOR = " > "
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
CENT = Decimal("0.01")
DAY_SECONDS = 86400


def collapse(channels: list[str]) -> tuple[str, ...]:
    """The channel sequence with consecutive repeats merged (GA4 path exploration's rule)."""
    path: list[str] = []
    for channel in channels:
        if not path or path[-1] != channel:
            path.append(channel)
    return tuple(path)


@dataclass
class _Path:
    conversions: int = 0
    revenue: Decimal = Decimal(0)
    credited_revenue: Decimal = Decimal(0)
    days: list[float] = field(default_factory=list)


def conversion_paths(
    session: Session,
    rng: ReportRange,
    *,
    target: str = "deal",
    model: str = "last_click",
    channel: str | None = None,
    limit: int = DEFAULT_LIMIT,
    currency: str = "USD",
    fx_rates: dict[str, Decimal] | None = None,
    ignore_direct: bool = True,
    half_life_days: float = 7.0,
) -> dict[str, Any]:
    """The top ``limit`` paths to ``target`` in the range, as plain data."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; use one of {', '.join(TARGETS)}")
    if model not in PATH_MODELS:
        raise ValueError(f"unknown model {model!r}; use one of {', '.join(PATH_MODELS)}")
    plan_for_reports(session)
    paths: dict[tuple[str, ...], _Path] = defaultdict(_Path)
    if target == "deal":
        without = _deal_paths(session, rng, model, channel, currency, fx_rates or {}, paths)
    else:
        without = _lead_paths(session, rng, model, channel, ignore_direct, half_life_days, paths)
    counted = sum(p.conversions for p in paths.values())
    ranked = sorted(
        paths.items(), key=lambda kv: (-kv[1].conversions, -kv[1].revenue, SEPARATOR.join(kv[0]))
    )
    rows = [_row(path, info, counted, target, channel) for path, info in ranked[:limit]]
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "target": target,
        "model": model,
        "channel": channel,
        "currency": currency,
        "ignore_direct": ignore_direct,
        "limit": limit,
        "conversions": counted,
        "distinct_paths": len(paths),
        "revenue": (
            sum((p.revenue for p in paths.values()), Decimal(0)).quantize(CENT)
            if target == "deal"
            else None
        ),
        "without_journey": without,
        "paths": rows,
    }


def _row(
    path: tuple[str, ...], info: _Path, counted: int, target: str, channel: str | None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "path": list(path),
        "label": SEPARATOR.join(path),
        "steps": len(path),
        "conversions": info.conversions,
        "share": (Decimal(info.conversions) / counted).quantize(Decimal("0.0001")),
        "median_days": Decimal(str(statistics.median(info.days))).quantize(CENT),
    }
    if target == "deal":
        row["revenue"] = info.revenue.quantize(CENT)
        if channel is not None:
            row["credited_revenue"] = info.credited_revenue.quantize(CENT)
    return row


def _days(first: datetime, converted: datetime) -> float:
    return max((converted - first).total_seconds(), 0.0) / DAY_SECONDS


def _deal_paths(
    session: Session,
    rng: ReportRange,
    model: str,
    channel: str | None,
    currency: str,
    rates: dict[str, Decimal],
    paths: dict[tuple[str, ...], _Path],
) -> int:
    """Fill ``paths`` from won deals' attribution rows; the count of deals without a journey."""
    fx = fx_factor(Deal.currency, currency, rates)
    weight = model_weight(model)
    credit_col = model_weight(model) * Deal.amount * fx
    query = (
        select(
            Attribution.deal_id,
            func.coalesce(Touchpoint.channel, literal(DIRECT_CHANNEL)),
            Touchpoint.occurred_at,
            weight,
            Deal.close_time,
            Deal.amount * fx,
            credit_col,
        )
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(won_between(rng))
        .order_by(Attribution.deal_id, Touchpoint.occurred_at, Touchpoint.id)
    )
    current: str | None = None
    touches: list[tuple[str, datetime, Decimal, Decimal]] = []
    close: datetime | None = None
    amount: Decimal = Decimal(0)

    def flush() -> None:
        if not touches or close is None:
            return
        if channel is not None and not any(c == channel and w > 0 for c, _, w, _ in touches):
            return
        info = paths[collapse([c for c, _, _, _ in touches])]
        info.conversions += 1
        info.revenue += amount
        info.credited_revenue += sum(
            (credit for c, _, w, credit in touches if c == channel and w > 0), Decimal(0)
        )
        info.days.append(_days(touches[0][1], close))

    for deal_id, chan, at, w, close_time, value, credit in session.execute(query):
        if deal_id != current:
            flush()
            current, touches = deal_id, []
            close, amount = close_time, Decimal(value or 0)
        touches.append((chan, at, Decimal(w or 0), Decimal(credit or 0)))
    flush()
    orphans = select(func.count()).select_from(Deal).where(won_between(rng), ~has_journey())
    return int(session.scalar(orphans) or 0)


def _lead_paths(
    session: Session,
    rng: ReportRange,
    model: str,
    channel: str | None,
    ignore_direct: bool,
    half_life_days: float,
    paths: dict[tuple[str, ...], _Path],
) -> int:
    """Fill ``paths`` from leads' visitors' sessions; the count of leads without a visit."""
    in_range = and_(Lead.occurred_at >= rng.since, Lead.occurred_at < rng.until)
    query = (
        select(
            Lead.id,
            Lead.occurred_at,
            func.coalesce(Touchpoint.channel, literal(DIRECT_CHANNEL)),
            Touchpoint.occurred_at,
        )
        .join(
            Touchpoint,
            and_(
                Touchpoint.visitor_id == Lead.visitor_id,
                Touchpoint.occurred_at <= Lead.occurred_at,
                Touchpoint.is_new_session.is_(True),
            ),
        )
        .where(in_range)
        .order_by(Lead.id, Touchpoint.occurred_at, Touchpoint.id)
    )
    current: int | None = None
    touches: list[tuple[str, datetime]] = []
    lead_at: datetime | None = None
    with_visit = 0

    def flush() -> None:
        kept = credited(touches, lambda t: is_direct(t[0]), ignore_direct=ignore_direct)
        if not kept or lead_at is None:
            return
        if channel is not None:
            shares = weights(
                model, [t for _, t in kept], close_time=lead_at, half_life_days=half_life_days
            )
            if not any(c == channel and s > 0 for (c, _), s in zip(kept, shares, strict=True)):
                return
        info = paths[collapse([c for c, _ in kept])]
        info.conversions += 1
        info.days.append(_days(kept[0][1], lead_at))

    for lead_id, occurred, chan, at in session.execute(query):
        if lead_id != current:
            flush()
            with_visit += 1
            current, touches, lead_at = lead_id, [], occurred
        touches.append((chan, at))
    flush()
    total = int(session.scalar(select(func.count()).select_from(Lead).where(in_range)) or 0)
    return total - with_visit


def path_options(settings: Any) -> dict[str, Any]:
    """The settings every caller of :func:`conversion_paths` passes (API, CLI)."""
    return {
        "currency": settings.currency,
        "fx_rates": settings.reports.fx_rates,
        "ignore_direct": settings.attribution.ignore_direct,
        "half_life_days": settings.attribution.half_life_days,
    }
