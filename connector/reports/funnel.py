"""The funnel report: visitors → leads → MQL → SQL → opportunity → customer, per source group.

Groups are the source report's (channel, source/medium, campaign, keyword; see
``connector.reports.sources``), and so is the crediting. Two modes:

``period`` (each stage counted when it happened in the range, like the source report):

- visitors: distinct visitors who started a session in the range, on the row of that session's
  touch (a visitor whose sessions came from two channels is on both rows, once in the totals);
- leads, MQLs, SQLs, opportunities, customers: the source report's columns, credited exactly as
  it credits them (leads and milestones to the last touch before them, or the first under
  ``first_click``, with ``ignore_direct``; opportunities = deals created in the range and
  customers = new customers won in the range, both spread by the model's attribution weights,
  so a row can hold a fraction). Stages of one row are different people, so a period
  stage-to-stage ratio can pass 100 % (SQLs this month of MQLs from last month).

``cohort`` (of the leads created in the range, how many have reached each later stage so far):

- the cohort is every person with a lead in the range, counted once, on the row of their first
  lead in the range (credited like the leads above);
- a person has reached MQL (SQL) when a CRM contact of theirs has the milestone at any time up
  to now (``lifecycle_events``, the contact linked by hashed email or CRM contact ID, as the
  lifecycle counts link it); an opportunity when a deal's journey (``attributions``) holds one
  of their touches; a customer when such a deal is won;
- reaching a stage counts every earlier stage as reached (HubSpot lets a contact skip MQL
  straight to SQL, and a deal need not follow an SQL), so each stage is a subset of the one
  before and no cohort rate can exceed 100 %;
- visitors are the period figure (a cohort of leads has no visitors of its own).

Rates are stage ÷ previous stage; costs are the row's spend (the source report's spend join:
the platforms' cost on the same dimension and days, in the reporting currency) ÷ the stage:
cost per lead, MQL, SQL and opportunity, and CAC (÷ customers). Every ratio is ``None`` when
its denominator is 0, never 0 or infinity.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from sqlalchemy import String, case, func, literal, or_, select, union, union_all
from sqlalchemy.orm import Session

from connector.reports.concurrent import begun
from connector.reports.kpis import ratio
from connector.reports.sources import (
    MODELS,
    NO_JOURNEY,
    ReportRange,
    credited_group,
    fx_factor,
    plan_for_reports,
    source_report,
    spend_dimension,
    touch_dimension,
)
from connector.storage.models import (
    Attribution,
    Deal,
    Lead,
    LifecycleEvent,
    Person,
    SpendDaily,
    Touchpoint,
    Visitor,
)

MODES = ("period", "cohort")
#: The funnel's stages in order: report column -> label.
STAGES: tuple[tuple[str, str], ...] = (
    ("visitors", "visitors"),
    ("leads", "leads"),
    ("mqls", "MQLs"),
    ("sqls", "SQLs"),
    ("opportunities", "opportunities"),
    ("customers", "customers"),
)
#: Stage-to-stage rates: name -> (numerator stage, denominator stage).
RATES: dict[str, tuple[str, str]] = {
    "visitor_to_lead": ("leads", "visitors"),
    "lead_to_mql": ("mqls", "leads"),
    "mql_to_sql": ("sqls", "mqls"),
    "sql_to_opportunity": ("opportunities", "sqls"),
    "opportunity_to_customer": ("customers", "opportunities"),
}
#: Costs per stage: name -> stage divided into the row's spend.
COSTS: dict[str, str] = {
    "cost_per_lead": "leads",
    "cost_per_mql": "mqls",
    "cost_per_sql": "sqls",
    "cost_per_opportunity": "opportunities",
    "cac": "customers",
}
CENT = Decimal("0.01")


def funnel_report(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    model: str = "last_click",
    mode: str = "period",
    currency: str = "USD",
    fx_rates: dict[str, Decimal] | None = None,
    ignore_direct: bool = True,
    lifecycle_mapped: bool = True,
    recurring_mapped: bool = False,
) -> dict[str, Any]:
    """The funnel as plain data: ``rows`` (one per group, with ``group``) and ``totals``.

    ``lifecycle_mapped`` is false when the mapping profile names no MQL/SQL stages: those
    stages are then ``None`` (unknown), not 0, and so is every rate or cost that uses them.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    touch_dimension(by)  # refuses an unknown grouping before any query runs
    rates = fx_rates or {}
    # The distinct-visitor count (one scan of the session starts, ~1 s at 1M touchpoints) is
    # independent of the stages: on PostgreSQL it runs on a connection of its own meanwhile.
    visitor_counts = begun(session, partial(_visitors, rng=rng, by=by))
    if mode == "period":
        source = source_report(
            session,
            rng,
            by=by,
            model=model,
            currency=currency,
            fx_rates=rates,
            ignore_direct=ignore_direct,
            lifecycle_mapped=lifecycle_mapped,
            recurring_mapped=recurring_mapped,
        )
        rows = {r["group"]: _stages_of(r, lifecycle_mapped) for r in source["rows"]}
        totals = _stages_of(source["totals"], lifecycle_mapped)
    else:
        rows = _cohort_rows(session, rng, by, model, ignore_direct, lifecycle_mapped)
        for key, cost in _spend(session, rng, by, currency, rates).items():
            rows.setdefault(key, _empty(lifecycle_mapped))["spend"] = cost
        totals = _sum(rows.values(), lifecycle_mapped)
    visitors, all_visitors = visitor_counts()
    for key, count in visitors.items():
        rows.setdefault(key, _empty(lifecycle_mapped))["visitors"] = count
    totals["visitors"] = all_visitors
    finished = [_finish(key, row) for key, row in rows.items()]
    if mode == "cohort":
        finished.sort(key=lambda r: (r["customers"], r["leads"], r["visitors"]), reverse=True)
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "by": by,
        "model": model,
        "mode": mode,
        "currency": currency,
        "ignore_direct": ignore_direct,
        "lifecycle_mapped": lifecycle_mapped,
        "stages": [key for key, _ in STAGES],
        "rows": finished,
        "totals": _finish("Total", totals),
    }


def _empty(lifecycle_mapped: bool) -> dict[str, Any]:
    milestone = 0 if lifecycle_mapped else None
    return {
        "visitors": 0,
        "leads": 0,
        "mqls": milestone,
        "sqls": milestone,
        "opportunities": Decimal(0),
        "customers": Decimal(0),
        "spend": Decimal(0),
    }


def _stages_of(row: dict[str, Any], lifecycle_mapped: bool) -> dict[str, Any]:
    """A source-report row's funnel columns (its visits are replaced by distinct visitors).

    With stages mapped, a milestone the source report left undefined (its totals over no
    rows) is a count of 0.
    """
    milestone = 0 if lifecycle_mapped else None
    return {
        "visitors": 0,
        "leads": row["leads"],
        "mqls": milestone if row["mqls"] is None else row["mqls"],
        "sqls": milestone if row["sqls"] is None else row["sqls"],
        "opportunities": row["opportunities"],
        "customers": row["customers"],
        "spend": row["spend"],
    }


def _sum(rows: Any, lifecycle_mapped: bool) -> dict[str, Any]:
    total = _empty(lifecycle_mapped)
    for row in rows:
        for key, value in row.items():
            if value is not None and total[key] is not None:
                total[key] += value
    return total


def _finish(key: str, row: dict[str, Any]) -> dict[str, Any]:
    """The row for output: stages, each stage-to-stage rate and each cost per stage."""
    out: dict[str, Any] = {"group": key, **row}
    out["spend"] = Decimal(row["spend"]).quantize(CENT, rounding=ROUND_HALF_UP)
    out["rates"] = {name: _rate(row[num], row[den]) for name, (num, den) in RATES.items()}
    out["costs"] = {name: _money(row["spend"], row[stage]) for name, stage in COSTS.items()}
    return out


def _rate(numerator: Any, denominator: Any) -> Decimal | None:
    if numerator is None or denominator is None:
        return None
    value = ratio(numerator, denominator)
    return None if value is None else value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _money(spend: Any, count: Any) -> Decimal | None:
    if count is None:
        return None
    value = ratio(spend, count)
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def _visitors(session: Session, *, rng: ReportRange, by: str) -> tuple[dict[str, int], int]:
    """Distinct visitors with a session starting in the range: per group, and in all."""
    plan_for_reports(session)  # its own transaction under ``begun``
    dim = touch_dimension(by)
    started = (
        Touchpoint.is_new_session.is_(True),
        Touchpoint.occurred_at >= rng.since,
        Touchpoint.occurred_at < rng.until,
    )
    # GROUP BY subqueries rather than COUNT(DISTINCT): PostgreSQL hashes them instead of
    # sorting every session start.
    # One statement over one CTE read twice: the (group, visitor) pairs are found in one scan
    # of the session starts, not one per figure (two scans were ~1.9 s of the period funnel at
    # 1M touchpoints). The total row has a NULL group; no touch group is NULL.
    pairs = (
        select(dim.label("grp"), Touchpoint.visitor_id)
        .where(*started)
        .group_by(dim, Touchpoint.visitor_id)
        .cte("group_visitors")
    )
    per_group = select(pairs.c.grp, func.count()).group_by(pairs.c.grp)
    once = select(pairs.c.visitor_id).group_by(pairs.c.visitor_id).subquery("visitors_once")
    overall = select(literal(None, String()), func.count()).select_from(once)
    counts: dict[str, int] = {}
    total = 0
    for key, n in session.execute(union_all(per_group, overall)):
        if key is None:
            total = int(n or 0)
        else:
            counts[key] = int(n)
    return counts, total


def _spend(
    session: Session, rng: ReportRange, by: str, currency: str, rates: dict[str, Decimal]
) -> dict[str, Decimal]:
    """The platforms' cost per group in the range, converted (the source report's join)."""
    dim = spend_dimension(by)
    query = (
        select(dim, func.sum(SpendDaily.cost * fx_factor(SpendDaily.currency, currency, rates)))
        .where(SpendDaily.day >= rng.start.isoformat(), SpendDaily.day <= rng.end.isoformat())
        .group_by(dim)
    )
    return {key: Decimal(cost or 0) for key, cost in session.execute(query)}


def _cohort_rows(
    session: Session,
    rng: ReportRange,
    by: str,
    model: str,
    ignore_direct: bool,
    lifecycle_mapped: bool,
) -> dict[str, dict[str, Any]]:
    """Per group: people with a lead in the range, and how many reached each later stage."""
    # Each person's stages are folded into one row first, so the cohort (one row per person)
    # joins one row each and its credited-touch probe runs once per person: joining the
    # (person, stage) rows first ran the probe once per stage row (EXPLAIN ANALYZE on
    # bench/reports.py: 260k probes for 150k people, 4.8 s of the cohort funnel).
    cohort = _cohort(rng, by, model, ignore_direct).subquery("cohort")
    people = _reached_people().subquery("reached")
    reached_stages = {
        stage: func.max(case((people.c.stage == stage, 1), else_=0)).label(stage)
        for stage in ("mql", "sql", "opportunity", "customer")
    }
    flags = (
        select(people.c.person_id, *reached_stages.values())
        .group_by(people.c.person_id)
        .subquery("stages_reached")
    )
    per_person = (
        select(
            cohort.c.person_id,
            cohort.c.grp,
            *(func.coalesce(flags.c[stage], 0).label(stage) for stage in reached_stages),
        )
        .select_from(cohort)
        .outerjoin(flags, flags.c.person_id == cohort.c.person_id)
        .subquery("per_person")
    )
    # Reaching a stage reaches every stage before it: the funnel only narrows.
    won = per_person.c.customer == 1
    opp = or_(won, per_person.c.opportunity == 1)
    sql_ = or_(opp, per_person.c.sql == 1)
    mql = or_(sql_, per_person.c.mql == 1)

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = select(
        per_person.c.grp,
        func.count(),
        count(mql),
        count(sql_),
        count(opp),
        count(won),
    ).group_by(per_person.c.grp)
    plan_for_reports(session)
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: _empty(lifecycle_mapped))
    for key, leads, mqls, sqls, opps, customers in session.execute(query):
        row = rows[key if key is not None else NO_JOURNEY]
        row["leads"] += int(leads)
        if lifecycle_mapped:
            row["mqls"] += int(mqls or 0)
            row["sqls"] += int(sqls or 0)
        row["opportunities"] += Decimal(int(opps or 0))
        row["customers"] += Decimal(int(customers or 0))
    return dict(rows)


def _cohort(rng: ReportRange, by: str, model: str, ignore_direct: bool) -> Any:
    """Each person with a lead in the range, with the group of their first lead in it."""
    ranked = (
        select(
            Lead.person_id.label("person_id"),
            Lead.visitor_id.label("visitor_id"),
            Lead.occurred_at.label("occurred_at"),
            func.row_number()
            .over(partition_by=Lead.person_id, order_by=(Lead.occurred_at, Lead.id))
            .label("nth"),
        )
        .where(Lead.occurred_at >= rng.since, Lead.occurred_at < rng.until)
        .subquery("ranked_leads")
    )
    order = (
        Touchpoint.occurred_at.asc() if model == "first_click" else Touchpoint.occurred_at.desc()
    )
    before_lead = (
        select(touch_dimension(by))
        .where(
            Touchpoint.visitor_id == ranked.c.visitor_id,
            Touchpoint.occurred_at <= ranked.c.occurred_at,
        )
        .order_by(order)
        .limit(1)
        .correlate(ranked)
    )
    grp = credited_group(before_lead, ignore_direct)
    return select(ranked.c.person_id, grp.label("grp")).where(ranked.c.nth == 1)


def _reached_people() -> Any:
    """(person, stage) for every stage a person has reached so far; one row or more each.

    MQL/SQL: the milestone's contact linked to the person by hashed email or CRM contact ID;
    opportunity/customer: a deal (won) whose journey holds a touch of one of their visitors.
    """
    event = LifecycleEvent
    by_email = (
        select(Person.id.label("person_id"), event.stage.label("stage"))
        .join(event, event.email_sha256 == Person.email_sha256)
        .where(event.stage.in_(("mql", "sql")))
    )
    by_contact = (
        select(Person.id.label("person_id"), event.stage.label("stage"))
        .join(event, event.contact_id == Person.crm_contact_id)
        .where(event.stage.in_(("mql", "sql")))
    )
    journey = (
        select(
            Visitor.person_id.label("person_id"),
            case((Deal.is_won.is_(True), literal("customer")), else_=literal("opportunity")).label(
                "stage"
            ),
        )
        .select_from(Attribution)
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Visitor, Visitor.id == Touchpoint.visitor_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(Visitor.person_id.is_not(None))
    )
    return union(by_email, by_contact, journey)


__all__ = ["COSTS", "MODES", "RATES", "STAGES", "funnel_report"]
