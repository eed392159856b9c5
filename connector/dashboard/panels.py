"""The dashboard's reports for one :class:`~connector.dashboard.view.View`.

The page and the CSV export both ask here, with the same arguments the JSON API and the CLI
pass, so a table, its CSV and ``closedloop report ... --format csv`` hold the same numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from connector.app.context import runtime
from connector.dashboard.view import View
from connector.reports import delivery_report, opportunity_report, sheets, source_report_options
from connector.reports.data_driven import learning_options
from connector.reports.drill import drilled_model_comparison, drilled_source_report
from connector.reports.kpis import ratio
from connector.reports.sources import ReportRange
from connector.reports.timeline import revenue_over_time

#: The comparison cards: source-report total, label, display kind.
SUMMARY = (
    ("revenue", "Revenue", "money"),
    ("spend", "Spend", "money"),
    ("leads", "Leads", "number"),
    ("won_deals", "Won deals", "number"),
    ("roi", "ROI", "percent"),
    ("cost_per_lead", "Cost per lead", "money"),
)


def _money() -> dict[str, Any]:
    settings = runtime().settings
    return {"currency": settings.currency, "fx_rates": settings.reports.fx_rates}


def sources(db: Session, view: View, rng: ReportRange | None = None) -> dict[str, Any]:
    """The source report at the view's level and drill filter."""
    options = source_report_options(runtime().settings, runtime().profile)
    return drilled_source_report(
        db, rng or view.rng, by=view.by, where=view.where, model=view.model, **options
    )


def opportunities(db: Session, view: View) -> dict[str, Any]:
    """Deals by stage and first/last-touch channel (the drill filter does not apply)."""
    return opportunity_report(db, view.rng, touch=view.touch)


def delivery(db: Session, view: View) -> dict[str, Any]:
    """Per-platform delivery (range only)."""
    return delivery_report(db, view.rng, **_money())


def models(db: Session, view: View) -> dict[str, Any]:
    """Revenue under every model at the view's level and drill filter."""
    return drilled_model_comparison(
        db,
        view.rng,
        by=view.by,
        where=view.where,
        **_money(),
        **learning_options(runtime().settings),
    )


def timeline(db: Session, view: View) -> dict[str, Any]:
    """Revenue per close day and channel; a channel filter keeps only that channel."""
    data = revenue_over_time(db, view.rng, model=view.model, **_money())
    channel = view.where.get("channel")
    if channel is not None:
        data["series"] = {k: v for k, v in data["series"].items() if k == channel}
    return data


def summary(current: dict[str, Any], previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Headline totals with the previous period's and the relative change (None: undefined)."""
    cards = []
    for key, label, kind in SUMMARY:
        now = _total(current, key)
        before = _total(previous, key) if previous is not None else None
        change = None
        if before is not None and now is not None:
            change = ratio(Decimal(str(now)) - Decimal(str(before)), abs(Decimal(str(before))))
        cards.append(
            {"key": key, "label": label, "kind": kind, "value": now, "previous": before}
            | {"change": None if change is None else change.quantize(Decimal("0.0001"))}
        )
    return cards


def _total(report: dict[str, Any], key: str) -> Any:
    totals = report["totals"]
    return totals[key] if key in totals else totals["kpis"][key]


#: CSV exports: name -> (report builder, sheet builder); the names in the export URLs.
EXPORTS = {
    "sources": (sources, sheets.sources_sheet),
    "opportunities": (opportunities, lambda data: sheets.opportunities_sheet(data, "channel")),
    "delivery": (delivery, sheets.delivery_sheet),
    "models": (models, sheets.models_sheet),
}
