"""The source report: what each channel, source/medium, campaign or keyword earned.

Aggregated in SQL (GROUP BY) so it stays fast on large stores. Crediting rules, documented in
the README:

- visits: sessions started in the range (first page view of a session);
- leads: a lead in the range is credited to the last touchpoint of its visitor at or before
  the lead (the first one under the ``first_click`` model); with ``attribution.ignore_direct``
  (GA4's "last non-direct click") a Direct touch is credited only when the visitor has no
  other touch up to the lead; leads with no touchpoint are on the ``(no journey)`` row; form
  and call leads are counted apart;
- won deals and revenue: deals won (closed) in the range, spread by the deal's attribution
  weights under the chosen model (``attributions`` rows written by the sync), so a row can
  hold a fraction of a deal (the sync applies ``ignore_direct`` when it builds the journeys
  behind these rows); won deals with no journey are reported on a ``(no journey)`` row
  so totals always add up to the CRM's revenue (converted with ``reports.fx_rates``;
  currencies without a rate are left out and named);
- opportunities: deals created in the range, by the same weights; deals created in the range
  that the sync found no journey for are on the ``(no journey)`` row;
- new customers: won deals minus those whose contact already had an earlier won deal;
- spend and clicks: the platforms' reported cost on the same dimension and days;
- campaign and keyword of a touch whose ad click its platform resolved (``click_resolutions``,
  e.g. Google Ads click_view) are the platform's names for the click's campaign/keyword IDs,
  not the touch's UTMs, so its revenue is on the same row as that campaign's spend (a resolved
  click without a keyword, as on Display, is "(not set)" like its spend);
- a touch whose landing URL carried a platform's campaign/ad set/ad IDs (Meta's URL macros,
  ``connector/ad_ids.py``) is resolved the same way, by ID; Meta has no keywords, so its
  revenue and its spend are both on the keyword report's "(not set)" row, and its ads are
  the ``ad`` grouping (the touch's ``utm_content`` when its URL carried no known ad ID;
  platforms that report spend by keyword have their spend on the ad grouping's "(not set)").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from connector.attribution.direct import DIRECT_CHANNEL as DIRECT
from connector.config import Settings
from connector.reports.concurrent import begun
from connector.reports.customers import deal_contacts, lifetime_revenue
from connector.reports.engagement import SESSIONS_NOTE, ga4_sessions, page_counts
from connector.reports.kpis import compute
from connector.storage.models import (
    Attribution,
    ClickResolution,
    Deal,
    Lead,
    SpendDaily,
    Touchpoint,
    model_revenue,
    model_weight,
)

DIMENSIONS = ("channel", "source_medium", "campaign", "keyword", "ad")
MODELS = ("first_click", "last_click", "linear", "time_decay", "position_based")
MODELS += ("markov", "shapley")  # learned models, stored per deal by the sync like the rest
NO_JOURNEY = "(no journey)"
MATCHED = "matched"  # Deal.match_status when the sync found a journey


@dataclass(frozen=True)
class ReportRange:
    """Inclusive UTC date range."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        """Start of the first day."""
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """Start of the day after the last day (exclusive bound)."""
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)


def touch_dimension(by: str) -> ColumnElement[str]:
    """The touchpoint column (or expression) a report groups by (``a␟b``: both, joined)."""
    if PATH_SEP in by:
        return joined([touch_dimension(part) for part in by.split(PATH_SEP)])
    if by == "channel":
        return func.coalesce(Touchpoint.channel, literal(DIRECT))
    if by == "source_medium":
        return (
            func.coalesce(Touchpoint.source, literal("(direct)"))
            + literal(" / ")
            + func.coalesce(Touchpoint.medium, literal("(none)"))
        )
    if by == "campaign":
        resolved = _resolved(ClickResolution.campaign)
        return func.coalesce(resolved, Touchpoint.campaign, literal("(not set)"))
    if by == "keyword":
        return func.coalesce(_resolved(ClickResolution.keyword), Touchpoint.term, NOT_SET)
    if by == "ad":
        return func.coalesce(_resolved(ClickResolution.ad), Touchpoint.content, NOT_SET)
    raise ValueError(f"unknown grouping {by!r}; use one of {', '.join(DIMENSIONS)}")


NOT_SET = literal("(not set)")
#: Joins dimensions into one group key (``connector.reports.drill``): a control character
#: no channel, UTM or platform name holds.
PATH_SEP = "\x1f"


def joined(parts: list[ColumnElement[str]]) -> ColumnElement[str]:
    """The parts' values joined by :data:`PATH_SEP`, as one text group key."""
    key = type_coerce(parts[0], String())
    for part in parts[1:]:
        key = key.concat(literal(PATH_SEP)).concat(part)
    return key


def _resolved(column: Any) -> ColumnElement[Any]:
    """The touch's resolved click's ``column`` ("(not set)" when empty); NULL if unresolved.

    A primary-key probe through ``touchpoints.click_resolution_id``, so it works in every query
    that selects from touchpoints (visits, the lead probe, attribution joins); CASE runs it
    only for touches that have one, so reports over other traffic pay nothing for it.
    """
    probe = (
        select(func.coalesce(column, NOT_SET))
        .where(ClickResolution.id == Touchpoint.click_resolution_id)
        .scalar_subquery()
    )
    return case((Touchpoint.click_resolution_id.is_(None), null()), else_=probe)


def spend_dimension(by: str) -> ColumnElement[str]:
    """The spend column matching :func:`touch_dimension`."""
    if PATH_SEP in by:
        return joined([spend_dimension(part) for part in by.split(PATH_SEP)])
    if by == "channel":
        return func.coalesce(SpendDaily.channel, literal("Paid Other"))
    if by == "source_medium":
        return (
            func.coalesce(SpendDaily.source, literal("(direct)"))
            + literal(" / ")
            + func.coalesce(SpendDaily.medium, literal("(none)"))
        )
    if by == "campaign":
        return func.coalesce(SpendDaily.campaign, literal("(not set)"))
    if by == "ad":
        return func.coalesce(SpendDaily.ad, literal("(not set)"))
    return func.coalesce(SpendDaily.keyword, literal("(not set)"))


def fx_factor(currency_col: Any, reporting: str, rates: dict[str, Decimal]) -> ColumnElement:
    """SQL factor turning an amount in ``currency_col`` into the reporting currency.

    NULL for currencies without a rate, so they drop out of sums (and are listed in the
    report's ``unconverted_currencies``) instead of being added as if they were equal.
    """
    whens = [(currency_col == reporting, literal(Decimal(1)))]
    whens += [(currency_col == code, literal(rate)) for code, rate in sorted(rates.items())]
    return case(*whens, else_=None)


def plan_for_reports(session: Session) -> None:
    """Per-transaction planner settings for report queries (PostgreSQL only).

    PostgreSQL's JIT compiles the lead-crediting plan (one index probe per lead) for ~0.2 s,
    longer than it saves on these sub-second aggregates; turn it off for this transaction only.
    The default 4 MB ``work_mem`` sent the bounce window's sort over a million page views and
    velocity's percentile sorts to disk (external merge, EXPLAIN ANALYZE on bench/reports.py);
    64 MB per sort keeps them in memory, for these report transactions only.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))


def won_between(rng: ReportRange) -> ColumnElement[bool]:
    """Deals won (closed) within the range: the ones whose revenue a report counts."""
    return and_(Deal.is_won.is_(True), Deal.close_time >= rng.since, Deal.close_time < rng.until)


def has_journey() -> ColumnElement[bool]:
    """The deal has attribution rows (a journey to credit).

    The same under every model: each gives its credit to at least one of the deal's rows.
    """
    return exists().where(Attribution.deal_id == Deal.id)


def source_report(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    regroup: Callable[[str], str | None] | None = None,
    model: str = "last_click",
    currency: str = "USD",
    fx_rates: dict[str, Decimal] | None = None,
    ignore_direct: bool = True,
    lifecycle_mapped: bool = False,
    recurring_mapped: bool = False,
) -> dict[str, Any]:
    """The source report as plain data: one row per group plus a totals row.

    ``regroup`` renames each group key, or drops it for ``None``, before rows and totals are
    finished (``connector.reports.drill`` keeps one parent's children this way).

    ``ignore_direct`` is ``attribution.ignore_direct``: leads go to a Direct touch only when
    their visitor has no other touch (the sync applies the same rule to deals' journeys).
    ``lifecycle_mapped``: the mapping profile names MQL/SQL stages, so MQLs and SQLs are
    counted (0 is then a count); otherwise they stay ``None`` ("—").
    ``recurring_mapped``: the profile names ``deal.recurring_amount``, so new MRR is summed;
    otherwise it stays ``None``.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    rates = fx_rates or {}
    dim = touch_dimension(by)
    milestones = None
    if lifecycle_mapped:
        from connector.reports.lifecycle import lifecycle_counts_started

        milestones = lifecycle_counts_started(
            session, rng, by=by, model=model, ignore_direct=ignore_direct
        )
    # The page counts, the lead crediting and the lifetime revenue each run on a connection of
    # their own meanwhile (``begun``, PostgreSQL); all are merged below in one fixed order, so
    # tied rows keep their order.
    pages = begun(session, partial(_page_counts, rng=rng, by=by))
    leads = begun(
        session, partial(_lead_rows, rng=rng, by=by, model=model, ignore_direct=ignore_direct)
    )
    fx = fx_factor(Deal.currency, currency, rates)
    lifetime = begun(session, partial(_lifetime_rows, rng=rng, by=by, model=model, fx=fx))
    plan_for_reports(session)
    rows: dict[str, dict[str, Any]] = defaultdict(_empty_row)
    won_in_range = won_between(rng)
    created_in_range = and_(Deal.created_time >= rng.since, Deal.created_time < rng.until)
    repeat, repeat_within = repeat_deal_conditions(session, rng)
    recurring = Deal.recurring_amount * fx
    # One pass over the model's attribution rows: revenue, won deals, opportunities, and the
    # share of won deals that came from existing customers (not new customers); plus, with a
    # NULL group, won deals without a journey under this model.
    weight, revenue = model_weight(model), model_revenue(model)
    credited = (
        select(
            dim.label("grp"),
            func.sum(case((won_in_range, revenue * fx))),
            func.sum(case((won_in_range, weight))),
            func.sum(case((created_in_range, weight))),
            func.sum(case((and_(won_in_range, repeat), weight))),
            func.sum(case((and_(won_in_range, repeat_within), weight))),
            func.sum(case((won_in_range, weight * recurring))),
        )
        .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
        .join(Deal, Deal.id == Attribution.deal_id)
        .where(weight > 0, or_(won_in_range, created_in_range))
        .group_by(dim)
    )
    # Deals the sync found no journey for (no contact, never tracked, outside the window)
    # still count as opportunities, on the "(no journey)" row like their revenue.
    created_unmatched = and_(
        created_in_range, or_(Deal.match_status.is_(None), Deal.match_status != MATCHED)
    )
    orphans = select(
        literal(None, String()).label("grp"),
        func.sum(case((won_in_range, Deal.amount * fx))),
        func.sum(case((won_in_range, 1), else_=0)),
        func.sum(case((created_unmatched, 1), else_=0)),
        func.sum(case((and_(won_in_range, repeat), 1), else_=0)),
        func.sum(case((and_(won_in_range, repeat_within), 1), else_=0)),
        func.sum(case((won_in_range, recurring))),
    ).where(or_(won_in_range, created_unmatched), ~has_journey())
    money_rows = session.execute(union_all(credited, orphans)).all()
    for key, visits, views, bounced in pages():
        row = rows[key]
        row["visits"] += visits
        row["page_views"] += views
        row["bounces"] += bounced

    for key, kind, count in leads():
        group = rows[key if key is not None else NO_JOURNEY]
        group["leads"] += count
        group[f"leads_{kind}" if kind in ("form", "call") else "leads_form"] += count

    for key, money, won, opportunities, repeat_weight, within, mrr in money_rows:
        if key is None and not won and not opportunities:
            continue  # no orphans: the aggregate row of an empty set
        row = rows[NO_JOURNEY if key is None else key]
        row["revenue"] += Decimal(money or 0)
        row["won_deals"] += Decimal(won or 0)
        row["opportunities"] += Decimal(opportunities or 0)
        row["repeat_weight"] += Decimal(repeat_weight or 0)
        row["repeat_within"] += Decimal(within or 0)
        if recurring_mapped:
            row["mrr"] = (row["mrr"] or Decimal(0)) + Decimal(mrr or 0)
    for key, life in lifetime():
        if life is not None:
            rows[NO_JOURNEY if key is None else key]["lifetime_revenue"] += Decimal(life)

    spend_dim = spend_dimension(by)
    spend_fx = fx_factor(SpendDaily.currency, currency, rates)
    spend = (
        select(
            spend_dim,
            func.sum(SpendDaily.cost * spend_fx),
            func.sum(SpendDaily.clicks),
            func.sum(SpendDaily.impressions),
        )
        .where(SpendDaily.day >= rng.start.isoformat(), SpendDaily.day <= rng.end.isoformat())
        .group_by(spend_dim)
    )
    for key, cost, clicks, impressions in session.execute(spend):
        rows[key]["spend"] += Decimal(cost or 0)
        rows[key]["clicks"] += int(clicks or 0)
        rows[key]["impressions"] += int(impressions or 0)
    ga4 = ga4_sessions(session, rng, by)
    if ga4 is not None:
        for key, count in ga4.items():
            rows[key]["ga4_sessions"] = (rows[key]["ga4_sessions"] or 0) + count
        for row in rows.values():  # pulled: a group GA4 saw no session of has 0, not "—"
            row["ga4_sessions"] = row["ga4_sessions"] or 0

    if milestones is not None:
        from connector.reports.lifecycle import add_to_rows

        add_to_rows(rows, milestones())

    if regroup is not None:
        rows = {new: row for key, row in rows.items() if (new := regroup(key)) is not None}
    finished = [_finish(key, row) for key, row in rows.items()]
    finished.sort(key=lambda r: (r["revenue"], r["leads"], r["visits"]), reverse=True)
    totals = _finish("Total", _sum_rows(rows.values()))
    return {
        "range": {"from": rng.start.isoformat(), "to": rng.end.isoformat()},
        "by": by,
        "model": model,
        "currency": currency,
        "unconverted_currencies": _unconverted(session, rng, currency, rates),
        "ignore_direct": ignore_direct,
        "lifecycle_mapped": lifecycle_mapped,
        "recurring_mapped": recurring_mapped,
        "sessions_note": SESSIONS_NOTE if ga4 is not None else None,
        "rows": finished,
        "totals": totals,
    }


def _page_counts(session: Session, *, rng: ReportRange, by: str) -> list[tuple[Any, ...]]:
    """``page_counts`` grouped by ``by``, with the report planner settings, for :func:`begun`."""
    plan_for_reports(session)
    return page_counts(session, rng, touch_dimension(by))


def _lead_rows(
    session: Session, *, rng: ReportRange, by: str, model: str, ignore_direct: bool
) -> list[Any]:
    """The leads per credited group and kind (:func:`_leads_query`), for :func:`begun`."""
    plan_for_reports(session)
    return session.execute(_leads_query(by, model, rng, ignore_direct)).all()


def _lifetime_rows(
    session: Session, *, rng: ReportRange, by: str, model: str, fx: ColumnElement[Any]
) -> list[Any]:
    """The lifetime revenue of the range's new customers per group, for :func:`begun`."""
    plan_for_reports(session)
    return list(lifetime_revenue(session, rng, touch_dimension(by), model, fx, has_journey()))


def source_report_options(settings: Settings, profile: Any = None) -> dict[str, Any]:
    """The settings every caller of :func:`source_report` passes (API, CLI, dashboard, demo).

    ``profile``: the runtime's already loaded mapping profile, so a request reads no YAML.
    """
    from connector.mapping import load_profile

    profile = profile or load_profile(settings)
    return {
        "currency": settings.currency,
        "fx_rates": settings.reports.fx_rates,
        "ignore_direct": settings.attribution.ignore_direct,
        "lifecycle_mapped": profile.lifecycle.is_mapped(),
        "recurring_mapped": profile.deal.recurring_amount is not None,
    }


def _leads_query(by: str, model: str, rng: ReportRange, ignore_direct: bool) -> Any:
    """Leads per credited group and kind; the group comes straight from the credited touch.

    Selecting the group in a correlated subquery (one index probe per lead on
    ``ix_touchpoints_visitor_time``) avoids joining the touchpoints table back in. With
    ``ignore_direct`` the probe skips Direct touches first and falls back to any touch only
    when it finds none (COALESCE evaluates the fallback only then). Leads with no touchpoint
    get NULL, reported as ``(no journey)``.
    """
    order = (
        Touchpoint.occurred_at.asc() if model == "first_click" else Touchpoint.occurred_at.desc()
    )
    before_lead = (
        select(touch_dimension(by))
        .where(Touchpoint.visitor_id == Lead.visitor_id, Touchpoint.occurred_at <= Lead.occurred_at)
        .order_by(order)
        .limit(1)
        .correlate(Lead)
    )
    credited = credited_group(before_lead, ignore_direct)
    lead_touch = (
        select(credited.label("grp"), Lead.kind.label("kind"))
        .where(Lead.occurred_at >= rng.since, Lead.occurred_at < rng.until)
        .subquery("lead_touch")
    )
    return select(lead_touch.c.grp, lead_touch.c.kind, func.count()).group_by(
        lead_touch.c.grp, lead_touch.c.kind
    )


def credited_group(touch_before: Select[Any], ignore_direct: bool) -> ColumnElement[Any]:
    """The group of the touch ``touch_before`` finds, under ``attribution.ignore_direct``.

    With the rule, a non-Direct touch is probed first and a Direct one only when there is no
    other (COALESCE runs the fallback only then). NULL channels are shown as Direct, and
    ``!=`` leaves them out of the first probe too.
    """
    credited: ColumnElement[Any] = touch_before.scalar_subquery()
    if not ignore_direct:
        return credited
    non_direct = touch_before.where(Touchpoint.channel != DIRECT).scalar_subquery()
    return func.coalesce(non_direct, credited)


def repeat_deal_conditions(
    session: Session, rng: ReportRange
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Conditions on ``Deal.id``: the deal is a repeat customer's, overall and within the range.

    A deal won in the range is a **repeat** when, for one of its contacts, it is not that
    contact's first won deal (ordered by close time, then id); such deals add revenue but not
    new customers. It is a repeat **within** the range when an earlier deal of that contact was
    also won in the range, so each customer who bought in the range is counted once (the "all
    customers" of revenue per customer). Both come from one pass over the contacts' won deals
    (a row number, and a count of the contact's in-range deals so far).

    On PostgreSQL the ids are fetched first and sent as arrays: the planner misjudges the JSON
    unnesting by orders of magnitude and would otherwise pick plans that spill to disk; an
    ``= ANY(array)`` test is hashed. SQLite runs ``IN (subquery)`` once, as a lookup table.
    """
    ids = _repeat_deals(session, rng)
    if session.get_bind().dialect.name != "postgresql":
        overall = select(ids.c.deal_id)
        within = select(ids.c.deal_id).where(ids.c.within)
        return Deal.id.in_(overall), Deal.id.in_(within)
    repeats, withins = [], []
    for deal_id, is_within in session.execute(select(ids.c.deal_id, ids.c.within)):
        repeats.append(deal_id)
        if is_within:
            withins.append(deal_id)

    def condition(name: str, values: list[str]) -> ColumnElement[bool]:
        if not values:
            return false()
        return Deal.id == any_(bindparam(name, values, type_=ARRAY(String())))

    return condition("repeat_deal_ids", repeats), condition("repeat_within_ids", withins)


def _repeat_deals(session: Session, rng: ReportRange) -> Any:
    """(deal_id, within) of deals won in the range that are some contact's second or later."""
    contacts = deal_contacts(session)
    order = (Deal.close_time, Deal.id)
    in_range = Deal.close_time >= rng.since
    nth = (
        select(
            Deal.id.label("deal_id"),
            Deal.close_time.label("close_time"),
            func.row_number().over(partition_by=contacts.c.value, order_by=order).label("nth"),
            func.count()
            .filter(in_range)
            .over(partition_by=contacts.c.value, order_by=order, rows=(None, 0))
            .label("nth_within"),
        )
        .select_from(Deal)
        .join(contacts, true())
        .where(Deal.is_won.is_(True), Deal.close_time < rng.until)
        .subquery("contact_deals")
    )
    return (
        select(nth.c.deal_id, (func.max(nth.c.nth_within) > 1).label("within"))
        .where(nth.c.close_time >= rng.since)
        .group_by(nth.c.deal_id)
        .having(func.max(nth.c.nth) > 1)
        .subquery("repeat_deals")
    )


def _unconverted(session: Session, rng: ReportRange, currency: str, rates: dict) -> list[str]:
    known = {currency, *rates}
    query = (
        select(Deal.currency)
        .where(Deal.is_won.is_(True), Deal.close_time >= rng.since, Deal.close_time < rng.until)
        .distinct()
    )
    return sorted(c for (c,) in session.execute(query) if c and c not in known)


def _empty_row() -> dict[str, Any]:
    return {
        "visits": 0,
        "clicks": 0,
        "impressions": 0,
        "page_views": 0,
        "bounces": 0,
        "ga4_sessions": None,
        "leads": 0,
        "leads_form": 0,
        "leads_call": 0,
        "mqls": None,
        "sqls": None,
        "opportunities": Decimal(0),
        "won_deals": Decimal(0),
        "repeat_weight": Decimal(0),
        "repeat_within": Decimal(0),
        "lifetime_revenue": Decimal(0),
        "mrr": None,
        "revenue": Decimal(0),
        "spend": Decimal(0),
    }


def _sum_rows(rows) -> dict[str, Any]:
    """Column sums; a column that is None (undefined) in every row stays None."""
    total = _empty_row()
    for row in rows:
        for key, value in row.items():
            if value is not None:
                total[key] = value if total[key] is None else total[key] + value
    return total


def _finish(key: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row for output; KPIs come from the exact sums, before counts are rounded for display.

    Fractional deals (time decay weights) rounded first would skew CAC and revenue per
    customer: 100 ÷ 0.43 is not 100 ÷ 0.4263.
    """
    out = {k: v for k, v in row.items() if k not in ("repeat_weight", "repeat_within")}
    out["group"] = key
    out["customers"] = row["won_deals"] - row["repeat_weight"]
    out["customers_all"] = row["won_deals"] - row["repeat_within"]
    out["repeat_deals"] = row["repeat_weight"]
    out["lifetime_revenue"] = row["lifetime_revenue"].quantize(Decimal("0.01"))
    if row["mrr"] is not None:
        out["mrr"] = row["mrr"].quantize(Decimal("0.01"))
    out["revenue"] = row["revenue"].quantize(Decimal("0.01"))
    out["spend"] = row["spend"].quantize(Decimal("0.01"))
    out["kpis"] = compute(out)
    for key_ in ("opportunities", "won_deals", "customers", "customers_all", "repeat_deals"):
        out[key_] = _tidy(out[key_])
    return out


def _tidy(value: Decimal) -> Decimal:
    """Weights add up to whole deals in most rows; show 3.0000000000 as 3 and keep fractions."""
    rounded = value.quantize(Decimal("0.01"))
    return rounded.to_integral_value() if rounded == rounded.to_integral_value() else rounded
