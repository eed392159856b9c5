"""Reports as spreadsheet rows: one builder per report, for the CLI's and the dashboard's CSV.

Both write ``connector.cli.output.write_csv(sheet)``, so ``closedloop report X --format csv``
and the dashboard's "CSV" link give the same file for the same range and options. Cells are
raw values (numbers unformatted, ratios as fractions, money in the report's currency).
"""

from __future__ import annotations

from typing import Any

from connector.reports.funnel import STAGES
from connector.reports.kpis import visible_kpis


def source_columns(data: dict[str, Any]) -> list[str]:
    """The figure columns of the source report (MQL/SQL when mapped, GA4 sessions if pulled)."""
    lifecycle = ["mqls", "sqls"] if data["lifecycle_mapped"] else []
    sessions = ["ga4_sessions"] if data.get("sessions_note") else []
    return [
        "visits",
        "leads",
        *lifecycle,
        "opportunities",
        "won_deals",
        "revenue",
        "spend",
        "impressions",
        *sessions,
    ]


def source_kpis(data: dict[str, Any]) -> list[str]:
    """The KPI keys shown (``visible_kpis``: MRR and MQL→SQL only when they are mapped)."""
    return [k.key for k in visible_kpis(data)]


def sources_sheet(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group and the totals row: figures, currency, KPIs (and comparisons).

    With ``compare=previous``, each figure's previous value and change in percent follow.
    """
    by, columns, kpis = data["by"], source_columns(data), source_kpis(data)
    compare = "compare" in data
    return [
        {
            by: row["group"],
            **{key: row[key] for key in columns},
            "currency": data["currency"],
            **{key: row["kpis"][key] for key in kpis},
            **(_previous_cells(row, columns, kpis) if compare else {}),
        }
        for row in [*data["rows"], data["totals"]]
    ]


def _previous_cells(row: dict[str, Any], columns: list[str], kpis: list[str]) -> dict[str, Any]:
    """CSV cells of the comparison: each figure's previous value and change in percent."""
    prev = row["previous"]
    cells: dict[str, Any] = {}
    for key in columns:
        cells[f"{key}_previous"] = prev[key]["previous"]
        cells[f"{key}_change_pct"] = prev[key]["change_pct"]
    for key in kpis:
        cells[f"{key}_previous"] = prev["kpis"][key]["previous"]
        cells[f"{key}_change_pct"] = prev["kpis"][key]["change_pct"]
    return cells


def opportunities_sheet(data: dict[str, Any], by: str) -> list[dict[str, Any]]:
    """One row per group: deals, then each stage's current count and conversion."""
    sheet = []
    for row in data["rows"]:
        cells: dict[str, Any] = {by: row["group"], "deals": row["total"]}
        for stage in row["stages"]:
            cells[stage["label"]] = stage["current"]
            cells[f"{stage['label']} conversion"] = stage["conversion_from_previous"]
        sheet.append(cells)
    return sheet


def delivery_sheet(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per platform: net, each status and retracted (count, value), match rate."""
    sheet = []
    for platform, info in data["platforms"].items():
        cells: dict[str, Any] = {"platform": platform}
        cells["net_conversions"] = info["net"]["conversions"]
        cells["net_value"] = info["net"]["value"]
        for status, slot in info["by_status"].items():
            cells[f"{status}_conversions"] = slot["conversions"]
            cells[f"{status}_value"] = slot["value"]
        cells["retracted_conversions"] = info["retracted"]["conversions"]
        cells["retracted_value"] = info["retracted"]["value"]
        cells["currency"] = data["currency"]
        cells["match_rate"] = info["match_rate"]
        sheet.append(cells)
    return sheet


def models_sheet(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group: its revenue under every model, and the currency."""
    by = data["by"]
    return [
        {by: row["group"], **row["revenue"], "currency": data["currency"]} for row in data["rows"]
    ]


def paths_sheet(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per path: label, steps, conversions, share, revenue (to deals), median days."""
    money = data["target"] == "deal"
    credited = money and data["channel"] is not None
    return [
        {
            "path": row["label"],
            "steps": row["steps"],
            "conversions": row["conversions"],
            "share": row["share"],
            **({"revenue": row["revenue"], "currency": data["currency"]} if money else {}),
            **({"credited_revenue": row["credited_revenue"]} if credited else {}),
            "median_days": row["median_days"],
        }
        for row in data["paths"]
    ]


def funnel_sheet(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group and the totals: stages, rates, spend, costs per stage, currency."""
    by = data["by"]
    rows = [*data["rows"], *([data["totals"]] if data.get("totals") else [])]
    return [
        {
            by: row["group"],
            **{key: row[key] for key, _ in STAGES},
            **row["rates"],
            "spend": row["spend"],
            **row["costs"],
            "currency": data["currency"],
        }
        for row in rows
    ]


def velocity_sheet(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group and the totals: each measure's count, median and p75 days."""
    by = data["by"]
    sheet = []
    for row in [*data["rows"], *([data["totals"]] if data.get("totals") else [])]:
        cells: dict[str, Any] = {by: row["group"]}
        for measure in data["measures"]:
            cell = row[measure]
            cells[f"{measure}_count"] = cell["count"]
            cells[f"{measure}_median_days"] = cell["median_days"]
            cells[f"{measure}_p75_days"] = cell["p75_days"]
        sheet.append(cells)
    return sheet
