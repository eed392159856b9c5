"""Spend join rate: per ad platform, how much won revenue lands on a row next to its spend.

ROI per campaign is only as good as this join. A won deal's revenue (spread by the model's
attribution weights) on a touch counts for a spend platform when the touch was resolved to
that platform (its click or its URL's ad IDs; ``click_resolutions``) or, unresolved, when it
carries the platform's declared traffic (``traffic`` source / medium). Its revenue is then:

- ``joined_by_id``: resolved, and its campaign ID has spend rows in the range;
- ``joined_by_name``: unresolved, but its UTM campaign is the name of one of the platform's
  campaigns with spend in the range (the source report puts it on that row, by name);
- not joined, with the reason: ``campaign_without_spend`` (resolved, but that campaign has no
  spend in the range), ``click_not_resolved`` (the visitor brought a click ID of a kind the
  platform resolves, ``click_kinds``, which it did not know or was not asked about yet),
  ``name_not_in_spend`` (no ID; the UTM campaign names none of its campaigns with spend) and
  ``no_campaign`` (no ID and no UTM campaign).

Which platforms there are, and what each declares, comes from the registry's spend sources.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

import platforms
from connector.reports.kpis import ratio
from connector.reports.sources import ReportRange, fx_factor, won_between
from connector.storage.models import (
    Attribution,
    ClickId,
    ClickResolution,
    Deal,
    SpendDaily,
    Touchpoint,
    model_revenue,
)

JOINED = ("joined_by_id", "joined_by_name")
NOT_JOINED = ("campaign_without_spend", "click_not_resolved", "name_not_in_spend", "no_campaign")
CENT = Decimal("0.01")


def spend_sources() -> dict[str, Any]:
    """The registry's spend sources that file spend rows (not sessions), by name."""
    loaded = {name: platforms.load(path) for name, path in platforms.SPEND_SOURCES.items()}
    return {
        name: source
        for name, source in loaded.items()
        if getattr(source, "rows", None) == "spend" and getattr(source, "traffic", None)
    }


def spend_join(
    session: Session,
    rng: ReportRange,
    *,
    model: str = "last_click",
    currency: str = "USD",
    fx_rates: dict[str, Decimal] | None = None,
    sources: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per spend platform with revenue or spend in the range: joined revenue and why not."""
    sources = spend_sources() if sources is None else sources
    spent_ids: dict[str, set[str]] = defaultdict(set)
    spent_names: dict[str, set[str]] = defaultdict(set)
    in_range = and_(SpendDaily.day >= rng.start.isoformat(), SpendDaily.day <= rng.end.isoformat())
    for platform, campaign_id, campaign in session.execute(
        select(SpendDaily.platform, SpendDaily.campaign_id, SpendDaily.campaign)
        .where(in_range)
        .distinct()
    ):
        spent_ids[platform].add(campaign_id)
        if campaign:
            spent_names[platform].add(campaign)

    by_traffic = {tuple(s.traffic[:2]): name for name, s in sources.items()}
    kinds = {name: set(getattr(s, "click_kinds", ()) or ()) for name, s in sources.items()}
    out = {name: _empty() for name in sources if spent_ids.get(name)}
    for resolved_to, campaign_id, source, medium, campaign, click_kind, money in session.execute(
        _credited(rng, model, currency, fx_rates or {}, set().union(*kinds.values()))
    ):
        platform = resolved_to or by_traffic.get((source, medium))
        if platform not in sources:
            continue
        if resolved_to:
            why = "joined_by_id" if campaign_id in spent_ids[platform] else "campaign_without_spend"
        elif campaign and campaign in spent_names[platform]:
            why = "joined_by_name"
        elif click_kind in kinds[platform]:
            why = "click_not_resolved"
        else:
            why = "name_not_in_spend" if campaign else "no_campaign"
        row = out.setdefault(platform, _empty())
        row[why] += Decimal(money or 0)
    return {name: _finish(row) for name, row in sorted(out.items())}


def _credited(
    rng: ReportRange, model: str, currency: str, rates: dict[str, Decimal], kinds: set[str]
) -> Any:
    """Won revenue per (resolution platform, campaign ID, source, medium, campaign, click kind)."""
    fx = fx_factor(Deal.currency, currency, rates)
    latest_click = (
        select(ClickId.kind)
        .where(
            ClickId.visitor_id == Touchpoint.visitor_id,
            ClickId.first_seen_at <= Touchpoint.occurred_at,
            ClickId.kind.in_(sorted(kinds) or [""]),
        )
        .order_by(ClickId.first_seen_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = (
        select(
            ClickResolution.platform.label("resolved_to"),
            ClickResolution.campaign_id.label("campaign_id"),
            Touchpoint.source.label("source"),
            Touchpoint.medium.label("medium"),
            Touchpoint.campaign.label("campaign"),
            case((ClickResolution.id.is_(None), latest_click)).label("click_kind"),
            (model_revenue(model) * fx).label("money"),
        )
        .select_from(Attribution)
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .outerjoin(ClickResolution, ClickResolution.id == Touchpoint.click_resolution_id)
        .where(won_between(rng), model_revenue(model) > 0)
        .subquery("credited")
    )
    keys = [rows.c[k] for k in ("resolved_to", "campaign_id", "source", "medium", "campaign")]
    return select(*keys, rows.c.click_kind, func.sum(rows.c.money)).group_by(
        *keys, rows.c.click_kind
    )


def _empty() -> dict[str, Decimal]:
    return {k: Decimal(0) for k in (*JOINED, *NOT_JOINED)}


def _finish(row: dict[str, Decimal]) -> dict[str, Any]:
    joined = row["joined_by_id"] + row["joined_by_name"]
    total = joined + sum(row[k] for k in NOT_JOINED)
    rate = ratio(joined, total)
    return {
        "revenue": total.quantize(CENT),
        "joined": joined.quantize(CENT),
        "join_rate": None if rate is None else round(rate, 4),
        "joined_by": {k.removeprefix("joined_by_"): row[k].quantize(CENT) for k in JOINED},
        "not_joined": {k: row[k].quantize(CENT) for k in NOT_JOINED},
    }
