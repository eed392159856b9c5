"""The dashboard's reports for one :class:`~connector.dashboard.view.View`.

The page and the CSV export both ask here, with the same arguments the JSON API and the CLI
pass, so a table, its CSV and ``closedloop report ... --format csv`` hold the same numbers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connector.app.context import runtime
from connector.dashboard import lifecycle
from connector.dashboard.view import View
from connector.reports import delivery_report, opportunity_report, sheets, source_report_options
from connector.reports.data_driven import learning_options
from connector.reports.drill import drilled_model_comparison, drilled_source_report
from connector.reports.period import with_previous
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


def sources(db: Session, view: View) -> dict[str, Any]:
    """The source report at the view's level and drill filter (and the previous period).

    With the comparison, each row and the totals carry the previous period's figures
    (``period.with_previous``), as the API's and the CLI's ``compare=previous`` do.
    """
    options = source_report_options(runtime().settings, runtime().profile)

    def run(rng: ReportRange) -> dict[str, Any]:
        return drilled_source_report(
            db, rng, by=view.by, where=view.where, model=view.model, **options
        )

    report = run(view.rng)
    return with_previous(report, run, view.rng) if view.compare else report


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


def summary(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline totals with the previous period's value and the change in percent."""
    totals = report["totals"]
    previous = totals["previous"]
    cards = []
    for key, label, kind in SUMMARY:
        now = totals[key] if key in totals else totals["kpis"][key]
        before = previous[key] if key in previous else previous["kpis"][key]
        cards.append(
            {"key": key, "label": label, "kind": kind, "value": now}
            | {"previous": before["previous"], "change": before["change_pct"]}
        )
    return cards


#: CSV exports: name -> (report builder, sheet builder); the names in the export URLs.
EXPORTS = {
    "sources": (sources, sheets.sources_sheet),
    "opportunities": (opportunities, lambda data: sheets.opportunities_sheet(data, "channel")),
    "delivery": (delivery, sheets.delivery_sheet),
    "models": (models, sheets.models_sheet),
    "paths": (lifecycle.paths, sheets.paths_sheet),
    "funnel": (lifecycle.funnel, sheets.funnel_sheet),
    "velocity": (lifecycle.velocity, sheets.velocity_sheet),
}
