"""Reports as spreadsheet rows: one builder per report, for the CLI's and the dashboard's CSV.

Both write ``connector.cli.output.write_csv(sheet)``, so ``closedloop report X --format csv``
and the dashboard's "CSV" link give the same file for the same range and options. Cells are
raw values (numbers unformatted, ratios as fractions, money in the report's currency).
"""

from __future__ import annotations

from typing import Any

from connector.reports.kpis import KPIS


def source_columns(data: dict[str, Any]) -> list[str]:
    """The count and money columns of the source report (MQL/SQL when they are mapped)."""
    lifecycle = ["mqls", "sqls"] if data["lifecycle_mapped"] else []
    return ["visits", "leads", *lifecycle, "opportunities", "won_deals", "revenue", "spend"]


def source_kpis(data: dict[str, Any]) -> list[str]:
    """The KPI keys shown (MQL→SQL only when MQL/SQL stages are mapped)."""
    return [k.key for k in KPIS if data["lifecycle_mapped"] or k.key != "mql_to_sql"]


def sources_sheet(data: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per group and the totals row: counts, money, currency, KPIs."""
    by, columns, kpis = data["by"], source_columns(data), source_kpis(data)
    return [
        {
            by: row["group"],
            **{key: row[key] for key in columns},
            "currency": data["currency"],
            **{key: row["kpis"][key] for key in kpis},
        }
        for row in [*data["rows"], data["totals"]]
    ]


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
