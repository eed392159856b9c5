"""Time in stage and velocity: how many days leads take from one stage to the next, per source.

Every time is the CRM's own or the lead's own, never when a sync happened to see a change:
lead = the person's first tracked lead (``leads.occurred_at``, the form or call itself);
MQL/SQL = the contact's date-entered time (``lifecycle_events.entered_at``, from HubSpot's
``hs_lifecyclestage_*_date`` / ``hs_v2_date_entered_*``); deal created and won = the deal's
``createdate`` and ``closedate`` (``deals.created_time`` / ``close_time``).

Measures, each counted when its later moment falls in the range:

- ``lead_to_mql``: MQLs in the range, from the person's first lead; credited like the
  lifecycle counts (the touch before the MQL), per contact;
- ``mql_to_sql``: SQLs in the range, from the same contact's MQL (a contact that skipped MQL
  has no MQL date and no duration here);
- ``sql_to_won``: deals won in the range, from the earliest SQL of the deal's contacts;
- ``lead_to_won``: deals won in the range, from the first lead of a person in the deal's journey;
- ``sales_cycle``: deals won in the range, from the deal's creation to its close.

A duration whose start is after its end (a lead recorded after the contact was already an MQL)
is left out, not counted as negative. A won deal counts in every group its model credits
(under ``linear`` in each of its touches' groups, once per group, unweighted); deals with no
journey are on ``(no journey)``; totals count each duration once.

Durations are whole seconds (computed in SQL); the median and p75 are linear interpolation
between the closest ranks (PostgreSQL's ``percentile_cont``; Hyndman & Fan type 7, numpy's
default): for sorted x[0..n-1] and fraction p, h = p*(n-1), lo = floor(h), the result is
x[lo] + (h - lo) * (x[lo+1] - x[lo]).
PostgreSQL computes them in SQL; SQLite has no percentile function, so the same formula runs
in Python on a sorted fetch of the durations. Shown in days, rounded to 0.01.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from sqlalchemy import Float, String, cast, func, literal, select, true, union_all
from sqlalchemy.orm import Session

from connector.reports.concurrent import begun
from connector.reports.customers import deal_contacts
from connector.reports.lifecycle import credited_query
from connector.reports.sources import (
    MODELS,
    NO_JOURNEY,
    ReportRange,
    has_journey,
    plan_for_reports,
    touch_dimension,
    won_between,
)
from connector.storage.models import (
    Attribution,
    Deal,
    Lead,
    LifecycleEvent,
    Touchpoint,
    Visitor,
    model_weight,
)

MEASURES = ("lead_to_mql", "mql_to_sql", "sql_to_won", "lead_to_won", "sales_cycle")
PERCENTILES = {"median_days": 0.5, "p75_days": 0.75}
DAY = Decimal(86400)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (``percentile_cont``); None for no values."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    low = math.floor(position)
    high = math.ceil(position)
    first, second = float(values[low]), float(values[high])
    return first + (second - first) * (position - low)


def velocity_report(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    model: str = "last_click",
    ignore_direct: bool = True,
) -> dict[str, Any]:
    """Median and p75 days per measure, per group (``rows``) and overall (``totals``)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    # The lifecycle measures and the deal measures share no measure, so each half's figures
    # are complete on their own: the deal half runs on a connection of its own meanwhile
    # (``begun``, PostgreSQL), and the two are merged.
    lifecycle_half, deal_half = _durations(session, rng, by, model, ignore_direct)
    deal_figures = begun(session, partial(_figures, durations=deal_half))
    groups, totals = _figures(session, durations=lifecycle_half)
    more_groups, more_totals = deal_figures()
    for key, figures in more_groups.items():
        groups.setdefault(key, {}).update(figures)
    totals.update(more_totals)
    rows = [{"group": key, **_measures(figures)} for key, figures in groups.items()]
    rows.sort(key=lambda r: (-r["sales_cycle"]["count"], -r["lead_to_mql"]["count"], r["group"]))
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "by": by,
        "model": model,
        "ignore_direct": ignore_direct,
        "measures": list(MEASURES),
        "percentile_method": "linear interpolation between closest ranks (percentile_cont)",
        "rows": rows,
        "totals": {"group": "Total", **_measures(totals)},
    }


Figures = dict[str, tuple[int, float | None, float | None]]  # measure -> (n, p50, p75) seconds


def _measures(figures: Figures) -> dict[str, dict[str, Any]]:
    out = {}
    for measure in MEASURES:
        count, median, p75 = figures.get(measure, (0, None, None))
        out[measure] = {"count": count, "median_days": _days(median), "p75_days": _days(p75)}
    return out


def _days(seconds: float | None) -> Decimal | None:
    if seconds is None:
        return None
    return (Decimal(seconds) / DAY).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _figures(session: Session, *, durations: Any) -> tuple[dict[str, Figures], Figures]:
    """The figures of one set of durations (a select of measure, item, grp, secs)."""
    plan_for_reports(session)  # its own transaction under ``begun``
    durations = durations.cte("durations")
    if session.get_bind().dialect.name == "postgresql":
        return _in_sql(session, durations)
    return _in_python(session, durations)


def _in_sql(session: Session, durations: Any) -> tuple[dict[str, Figures], Figures]:
    """PostgreSQL: ``percentile_cont`` per (group, measure) and over distinct durations.

    One statement over one materialised set of durations (a CTE read twice), so the joins
    behind it run once.
    """
    once = select(durations.c.measure, durations.c.item, durations.c.secs).distinct().subquery()

    def stats(source: Any) -> tuple[Any, ...]:
        return (
            source.c.measure,
            func.count(),
            func.percentile_cont(0.5).within_group(source.c.secs),
            func.percentile_cont(0.75).within_group(source.c.secs),
        )

    per_group = select(literal(False).label("total"), durations.c.grp, *stats(durations))
    overall = select(literal(True), literal(None, String()), *stats(once))
    query = union_all(
        per_group.group_by(durations.c.grp, durations.c.measure),
        overall.group_by(once.c.measure),
    )
    groups: dict[str, Figures] = defaultdict(dict)
    totals: Figures = {}
    for is_total, key, measure, count, median, p75 in session.execute(query):
        if is_total:
            totals[measure] = (int(count), median, p75)
        else:
            groups[key if key is not None else NO_JOURNEY][measure] = (int(count), median, p75)
    return dict(groups), totals


def _in_python(session: Session, durations: Any) -> tuple[dict[str, Figures], Figures]:
    """SQLite: the same percentiles from one sorted fetch of the durations."""
    query = select(
        durations.c.grp, durations.c.measure, durations.c.item, durations.c.secs
    ).order_by(durations.c.measure, durations.c.secs)
    per_group: dict[tuple[str, str], list[float]] = defaultdict(list)
    overall: dict[str, dict[str, float]] = defaultdict(dict)
    for key, measure, item, secs in session.execute(query):
        group = key if key is not None else NO_JOURNEY
        per_group[(group, measure)].append(float(secs))
        overall[measure][item] = float(secs)
    groups: dict[str, Figures] = defaultdict(dict)
    for (group, measure), values in per_group.items():
        groups[group][measure] = _stats(values)
    totals = {m: _stats(sorted(items.values())) for m, items in overall.items()}
    return dict(groups), totals


def _stats(values: list[float]) -> tuple[int, float | None, float | None]:
    return (len(values), percentile(values, 0.5), percentile(values, 0.75))


def _seconds(session: Session, start: Any, end: Any) -> Any:
    """Whole seconds from ``start`` to ``end``, as a float, the same on both databases."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.round(func.extract("epoch", end - start)), Float)
    return cast(func.round((func.julianday(end) - func.julianday(start)) * 86400), Float)


def _durations(
    session: Session, rng: ReportRange, by: str, model: str, ignore_direct: bool
) -> tuple[Any, Any]:
    """(measure, item, grp, secs) for every duration the report counts, in two halves.

    The first half holds the lifecycle measures (from the credited milestones), the second
    the deal measures (from the won deals); no measure is in both.

    Start times come from grouped joins (first lead per person, MQL per contact, earliest SQL
    and first lead per deal), not correlated probes: hash joins over the range's milestones and
    wins scale with them, where a probe per row re-ran for every use of its column.
    """
    milestones = credited_query(rng, by=by, model=model, ignore_direct=ignore_direct).cte(
        "milestones"
    )
    first_leads = (
        select(Lead.person_id.label("person_id"), func.min(Lead.occurred_at).label("lead_at"))
        .group_by(Lead.person_id)
        .subquery("first_leads")
    )
    mqls = (
        select(LifecycleEvent.contact_id.label("contact_id"), LifecycleEvent.entered_at.label("at"))
        .where(LifecycleEvent.stage == "mql")
        .subquery("mqls")
    )
    lead_to_mql = (
        select(
            literal("lead_to_mql", String()).label("measure"),
            milestones.c.contact_id.label("item"),
            milestones.c.grp.label("grp"),
            _seconds(session, first_leads.c.lead_at, milestones.c.entered_at).label("secs"),
        )
        .join(first_leads, first_leads.c.person_id == milestones.c.person_id)
        .where(milestones.c.stage == "mql", first_leads.c.lead_at <= milestones.c.entered_at)
    )
    mql_to_sql = (
        select(
            literal("mql_to_sql", String()),
            milestones.c.contact_id,
            milestones.c.grp,
            _seconds(session, mqls.c.at, milestones.c.entered_at),
        )
        .join(mqls, mqls.c.contact_id == milestones.c.contact_id)
        .where(milestones.c.stage == "sql", mqls.c.at <= milestones.c.entered_at)
    )
    won = _won_deals(session, rng, by, model).cte("won_deals")  # read three times: once
    deal_measures = [
        select(
            literal(measure, String()).label("measure"),
            won.c.item.label("item"),
            won.c.grp.label("grp"),
            _seconds(session, start, won.c.close_at).label("secs"),
        ).where(start.is_not(None), start <= won.c.close_at)
        for measure, start in (
            ("sql_to_won", won.c.sql_at),
            ("lead_to_won", won.c.lead_at),
            ("sales_cycle", won.c.created_at),
        )
    ]
    return union_all(lead_to_mql, mql_to_sql), union_all(*deal_measures)


def _won_deals(session: Session, rng: ReportRange, by: str, model: str) -> Any:
    """Deals won in the range, once per credited group, with the moments measured from."""
    weight = model_weight(model)
    credited = (
        select(Attribution.deal_id.label("deal_id"), touch_dimension(by).label("grp"))
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(weight > 0, won_between(rng))
    )
    orphans = select(Deal.id.label("deal_id"), literal(None, String()).label("grp")).where(
        won_between(rng), ~has_journey()
    )
    groups = union_all(credited, orphans).subquery("won_groups")
    grouped = select(groups.c.deal_id, groups.c.grp).distinct().subquery("won_group")
    contacts = deal_contacts(session)
    sqls = (
        select(Deal.id.label("deal_id"), func.min(LifecycleEvent.entered_at).label("sql_at"))
        .select_from(Deal)
        .join(contacts, true())
        .join(
            LifecycleEvent,
            (LifecycleEvent.contact_id == contacts.c.value) & (LifecycleEvent.stage == "sql"),
        )
        .where(won_between(rng))
        .group_by(Deal.id)
        .subquery("deal_sqls")
    )
    leads = (
        select(Attribution.deal_id.label("deal_id"), func.min(Lead.occurred_at).label("lead_at"))
        .join(Deal, Deal.id == Attribution.deal_id)
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Visitor, Visitor.id == Touchpoint.visitor_id)
        .join(Lead, Lead.person_id == Visitor.person_id)
        .where(won_between(rng))
        .group_by(Attribution.deal_id)
        .subquery("deal_leads")
    )
    return (
        select(
            Deal.id.label("item"),
            grouped.c.grp,
            Deal.close_time.label("close_at"),
            Deal.created_time.label("created_at"),
            sqls.c.sql_at,
            leads.c.lead_at,
        )
        .select_from(grouped)
        .join(Deal, Deal.id == grouped.c.deal_id)
        .outerjoin(sqls, sqls.c.deal_id == Deal.id)
        .outerjoin(leads, leads.c.deal_id == Deal.id)
    )


__all__ = ["MEASURES", "PERCENTILES", "percentile", "velocity_report"]
