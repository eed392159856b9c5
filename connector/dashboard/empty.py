"""Empty states: for a table or chart with nothing to show, why it is empty and what to do.

An empty table with no words reads as "broken"; each message names the likely cause in this
range and the setting or button that fixes it. Spend sources come from the platform registry,
so the message lists whichever platforms can pull spend without naming any here.
"""

from __future__ import annotations

from typing import Any

from platforms import SPEND_SOURCES


def _span(report: dict[str, Any]) -> str:
    return f"{report['range']['from']} to {report['range']['to']}"


def sources(report: dict[str, Any]) -> str | None:
    """The source table has no rows: nothing tracked, or nothing under the drill filter."""
    if report["rows"]:
        return None
    if report.get("where"):
        under = " > ".join(report["where"].values())
        return (
            f"Nothing under {under} from {_span(report)}: go back up a level with the "
            "breadcrumbs, or choose a longer range."
        )
    return (
        f"No visits, leads, deals or spend from {_span(report)}. Check that the tracking "
        "snippet (/t.js) is on your pages and that a sync has run (Sync now), or choose a "
        "longer range."
    )


def spend(report: dict[str, Any]) -> str | None:
    """No spend rows in the range, so ROI, cost per lead and CAC cannot be computed."""
    totals = report["totals"]
    if totals["spend"] or totals.get("clicks"):
        return None
    keys = ", ".join(f"platforms.{name}" for name in SPEND_SOURCES)
    return (
        f"No spend rows from {_span(report)}: connect an ad account's spend ({keys}: enabled, "
        "with its account ID and credentials) and run a sync. ROI, cost per lead and CAC "
        "need spend; until then they show —."
    )


def opportunities(report: dict[str, Any]) -> str | None:
    """No deals in the opportunity table."""
    if report["rows"]:
        return None
    return (
        f"No deals created from {_span(report)}: connect the CRM and run a sync (Sync now), "
        "or choose a longer range."
    )


def models(report: dict[str, Any]) -> str | None:
    """No won revenue for the model comparison to split."""
    if report["rows"]:
        return None
    return f"No won deals closed from {_span(report)}, so no model has revenue to split."


def delivery(report: dict[str, Any]) -> str | None:
    """Nothing planned for any destination in the range."""
    if report["platforms"]:
        return None
    return (
        f"No conversions planned from {_span(report)}: enable a destination "
        "(platforms.<name>.enabled) and check that won deals match a tracked journey "
        "(see the match rate above)."
    )


def timeline(series: dict[str, Any], report: dict[str, Any]) -> str | None:
    """No won revenue by day."""
    if series:
        return None
    return f"No won deals closed from {_span(report)}: the chart fills in as deals close."


def funnel(report: dict[str, Any]) -> str | None:
    """No funnel rows: no visitors or leads (or, in cohort mode, no leads created)."""
    if report["rows"]:
        return None
    if report.get("mode") == "cohort":
        return (
            f"No leads were created from {_span(report)}, so the cohort is empty: choose a "
            "longer range, or the period mode to see each stage as it happened."
        )
    return sources(report)


def velocity(report: dict[str, Any]) -> str | None:
    """No stage durations: nothing reached a later stage, or no stage-entry times."""
    figures = [*report["rows"], *([report["totals"]] if report.get("totals") else [])]
    if any(row[m]["count"] for row in figures for m in report["measures"]):
        return None
    return (
        f"No stage times from {_span(report)}: time in stage needs the CRM's stage-entry "
        "times (the mapping profile's lifecycle and deal stages), pulled by a sync, and "
        "leads or deals that moved on a stage in the range."
    )


def paths(report: dict[str, Any]) -> str | None:
    """No conversion paths to show."""
    if report["paths"]:
        return None
    what = "won deals" if report.get("target") == "deal" else "leads"
    credited = f" credited to {report['channel']}" if report.get("channel") else ""
    return (
        f"No {what}{credited} with a tracked journey from {_span(report)}: paths need the "
        "tracking snippet on the pages visitors land on, and conversions matched to them."
    )
