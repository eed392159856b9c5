"""The opportunity report: deals by current stage, split by first-touch (or last-touch) source.

Stage-to-stage conversion rates come from the stages each deal was seen entering
(``deal_stage_events``), in the pipeline's display order (``crm_stages``), so a user sees where
leads from each source stall.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from connector.reports.kpis import ratio
from connector.reports.sources import ReportRange, plan_for_reports
from connector.storage.models import CrmStage, Deal, DealStageEvent


def opportunity_report(
    session: Session, rng: ReportRange, *, touch: str = "first", by: str = "channel"
) -> dict[str, Any]:
    """Deals created in the range, by current stage and by first/last-touch channel or source."""
    if touch not in ("first", "last"):
        raise ValueError("touch must be 'first' or 'last'")
    if by not in ("channel", "source"):
        raise ValueError("by must be 'channel' or 'source'")
    group_col = getattr(Deal, f"{touch}_touch_{by}")
    plan_for_reports(session)
    created = (Deal.created_time >= rng.since) & (Deal.created_time < rng.until)
    stages = _stage_order(session)

    current: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = select(
        func.coalesce(group_col, "(no journey)"), Deal.pipeline, Deal.stage, func.count()
    )
    for group, pipeline, stage, count in session.execute(
        query.where(created).group_by(group_col, Deal.pipeline, Deal.stage)
    ):
        current[group][_stage_key(pipeline, stage)] += count

    reached: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if stages and stages[0]["ordered"]:
        _passed_through(session, group_col, created, stages, reached)
    else:
        events = (
            select(
                func.coalesce(group_col, "(no journey)"),
                DealStageEvent.pipeline,
                DealStageEvent.stage,
                func.count(func.distinct(DealStageEvent.deal_id)),
            )
            .join(Deal, Deal.id == DealStageEvent.deal_id)
            .where(created)
            .group_by(group_col, DealStageEvent.pipeline, DealStageEvent.stage)
        )
        for group, pipeline, stage, count in session.execute(events):
            reached[group][_stage_key(pipeline, stage)] += count

    groups = sorted(set(current) | set(reached))
    rows = []
    for group in groups:
        funnel = []
        previous = None
        pipeline = None
        for stage in stages:
            if stage["pipeline"] != pipeline:
                # Conversion never runs across pipelines: each one's first stage starts afresh.
                previous, pipeline = None, stage["pipeline"]
            entered = reached[group].get(stage["key"], 0)
            funnel.append(
                {
                    "stage": stage["key"],
                    "label": stage["label"],
                    "current": current[group].get(stage["key"], 0),
                    "reached": entered,
                    "conversion_from_previous": None
                    if previous is None or (stage["is_closed"] and not stage["is_won"])
                    else _rate(ratio(entered, previous)),
                }
            )
            if not stage["is_closed"] or stage["is_won"]:
                previous = entered
        rows.append({"group": group, "total": sum(current[group].values()), "stages": funnel})
    rows.sort(key=lambda r: r["total"], reverse=True)
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "touch": touch,
        "by": by,
        "stages": stages,
        "rows": rows,
    }


def _passed_through(
    session: Session,
    group_col: Any,
    created: Any,
    stages: list[dict[str, Any]],
    reached: dict[str, dict[str, int]],
) -> None:
    """Deals that reached each stage, in one pass over the stage history.

    A deal counts as having reached every open or won stage up to the furthest it entered:
    deals skip stages (straight from a demo to closed won), and without this a later stage
    could show more deals than an earlier one and a conversion rate above 100 %. Lost stages
    count the deals that entered them.
    """
    lost = CrmStage.is_closed.is_(True) & CrmStage.is_won.is_(False)
    per_deal = (
        select(
            func.coalesce(group_col, "(no journey)").label("grp"),
            DealStageEvent.pipeline.label("pipeline"),
            func.max(case((~lost, CrmStage.display_order))).label("furthest"),
            func.max(case((lost, CrmStage.stage))).label("lost_stage"),
        )
        .join(Deal, Deal.id == DealStageEvent.deal_id)
        .join(
            CrmStage,
            (CrmStage.pipeline == DealStageEvent.pipeline)
            & (CrmStage.stage == DealStageEvent.stage),
        )
        .where(created)
        .group_by(group_col, DealStageEvent.deal_id, DealStageEvent.pipeline)
        .subquery()
    )
    columns = (per_deal.c.grp, per_deal.c.pipeline, per_deal.c.furthest, per_deal.c.lost_stage)
    furthest: dict[str, dict[str | None, dict[int, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for group, pipeline, order, lost_stage, count in session.execute(
        select(*columns, func.count()).group_by(*columns)
    ):
        if order is not None:
            furthest[group][pipeline][order] += count
        if lost_stage is not None:
            reached[group][_stage_key(pipeline, lost_stage)] += count
    for group, pipelines in furthest.items():
        for stage in stages:
            if stage["is_closed"] and not stage["is_won"]:
                continue
            counts = pipelines.get(stage["pipeline"], {})
            reached[group][stage["key"]] = sum(n for o, n in counts.items() if o >= stage["order"])


def _stage_order(session: Session) -> list[dict[str, Any]]:
    ordered = session.execute(
        select(CrmStage).order_by(CrmStage.pipeline, CrmStage.display_order)
    ).scalars()
    stages = [
        {
            "key": _stage_key(s.pipeline, s.stage),
            "pipeline": s.pipeline,
            "order": s.display_order,
            "ordered": True,
            "label": s.label or s.stage,
            "is_closed": s.is_closed,
            "is_won": s.is_won,
        }
        for s in ordered
    ]
    if stages:
        return stages
    # Before the first pipelines pull: stages in order of first appearance.
    seen = session.execute(
        select(DealStageEvent.pipeline, DealStageEvent.stage, func.min(DealStageEvent.entered_at))
        .group_by(DealStageEvent.pipeline, DealStageEvent.stage)
        .order_by(func.min(DealStageEvent.entered_at))
    )
    return [
        {
            "key": _stage_key(p, s),
            "pipeline": p,
            "order": index,
            "ordered": False,
            "label": s,
            "is_closed": False,
            "is_won": False,
        }
        for index, (p, s, _) in enumerate(seen)
    ]


def _stage_key(pipeline: str | None, stage: str | None) -> str:
    return f"{pipeline or 'default'}:{stage or 'unknown'}"


def _rate(value: Decimal | None) -> Decimal | None:
    return None if value is None else round(value, 4)
