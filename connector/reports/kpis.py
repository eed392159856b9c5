"""KPI formulas, in one place so the API, the CLI and the dashboard show the same numbers.

Every ratio is ``None`` when its denominator is zero: reports show "—", never 0 or an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Kpi:
    """A KPI's name, formula (for docs and tooltips) and kind (money or ratio)."""

    key: str
    label: str
    formula: str
    kind: str  # money | ratio | percent
    short: str = ""


KPIS: tuple[Kpi, ...] = (
    Kpi("lead_value", "Lead value", "revenue ÷ leads", "money", "lead value"),
    Kpi("cost_per_lead", "Cost per lead", "spend ÷ leads", "money", "CPL"),
    Kpi("cac", "Customer acquisition cost", "spend ÷ new customers", "money", "CAC"),
    Kpi("lead_to_sale", "Lead-to-sale rate", "won deals ÷ leads", "percent", "lead→sale"),
    Kpi("avg_deal_size", "Average deal size", "revenue ÷ won deals", "money", "avg deal"),
    Kpi(
        "revenue_per_customer",
        "Average revenue per customer",
        "revenue ÷ new customers",
        "money",
        "rev/customer",
    ),
    Kpi("roi", "ROI", "(revenue - spend) ÷ spend", "percent", "ROI"),
    Kpi("mql_to_sql", "MQL→SQL rate", "SQLs ÷ MQLs", "percent", "MQL→SQL"),
    Kpi("ctr", "Click-through rate", "ad clicks ÷ ad impressions", "percent", "CTR"),
    Kpi(
        "bounce_rate",
        "Bounce rate",
        "sessions with one page view ÷ sessions (our own page views)",
        "percent",
        "bounce",
    ),
    Kpi("pages_per_session", "Pages per session", "page views ÷ sessions", "number", "pages/visit"),
    Kpi(
        "revenue_per_customer_all",
        "Average revenue per customer (all customers)",
        "revenue ÷ customers who bought in the range (new and returning, each once)",
        "money",
        "rev/any customer",
    ),
    Kpi(
        "repeat_purchase_rate",
        "Repeat-purchase rate",
        "won deals of customers who had bought before ÷ won deals",
        "percent",
        "repeat",
    ),
    Kpi(
        "clv",
        "Customer lifetime value",
        "revenue to date of the customers first won in the range ÷ those new customers",
        "money",
        "CLV",
    ),
    Kpi(
        "mrr",
        "New MRR",
        "Σ recurring amount (deal.recurring_amount) of the deals won in the range",
        "money",
        "MRR",
    ),
)


def visible_kpis(report: dict) -> list[Kpi]:
    """The KPIs a source report can show: MQL→SQL needs lifecycle stages, MRR the property."""
    hidden = set()
    if not report.get("lifecycle_mapped"):
        hidden.add("mql_to_sql")
    if not report.get("recurring_mapped"):
        hidden.add("mrr")
    return [k for k in KPIS if k.key not in hidden]


def ratio(numerator: Decimal | int | float, denominator: Decimal | int | float) -> Decimal | None:
    """Numerator ÷ denominator, or None when the denominator is zero."""
    num, den = Decimal(str(numerator)), Decimal(str(denominator))
    if den == 0:
        return None
    return num / den


def compute(row: dict[str, Decimal | int | float | None]) -> dict[str, Decimal | None]:
    """The KPIs of one report row.

    Keys read: revenue, spend, leads, won_deals, customers, mqls, sqls, and (each optional,
    a missing one gives ``None``) clicks, impressions, visits, page_views, bounces,
    customers_all, repeat_deals, lifetime_revenue, mrr. ``mrr`` is shown as given: ``None``
    when the mapping profile names no recurring-amount property.
    """
    revenue = Decimal(str(row.get("revenue") or 0))
    spend = Decimal(str(row.get("spend") or 0))
    leads = row.get("leads") or 0
    won = row.get("won_deals") or 0
    customers = row.get("customers") or 0
    visits = row.get("visits") or 0
    return {
        "lead_value": _money(ratio(revenue, leads)),
        "cost_per_lead": _money(ratio(spend, leads)),
        "cac": _money(ratio(spend, customers)),
        "lead_to_sale": _rate(ratio(won, leads)),
        "avg_deal_size": _money(ratio(revenue, won)),
        "revenue_per_customer": _money(ratio(revenue, customers)),
        "roi": _rate(ratio(revenue - spend, spend)),
        "mql_to_sql": _rate(ratio(row.get("sqls") or 0, row.get("mqls") or 0)),
        "ctr": _rate(ratio(row.get("clicks") or 0, row.get("impressions") or 0)),
        "bounce_rate": _rate(ratio(row.get("bounces") or 0, visits)),
        "pages_per_session": _money(ratio(row.get("page_views") or 0, visits)),
        "revenue_per_customer_all": _money(ratio(revenue, row.get("customers_all") or 0)),
        "repeat_purchase_rate": _rate(ratio(row.get("repeat_deals") or 0, won)),
        "clv": _money(ratio(row.get("lifetime_revenue") or 0, customers)),
        "mrr": _money(None if row.get("mrr") is None else Decimal(str(row["mrr"]))),
    }


def _money(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(CENT, rounding=ROUND_HALF_UP)


def _rate(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def display(value: Decimal | int | float | None, kind: str = "number") -> str:
    """Human form: "—" for undefined, percentages with one decimal, money with two."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if kind == "percent":
        return f"{Decimal(str(value)) * 100:.1f}%"
    if kind == "money":
        return f"{Decimal(str(value)):,.2f}"
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.2f}"
