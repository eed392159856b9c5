"""``closedloop report sources|opportunities|delivery|models``: the reports in a terminal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy.orm import Session

from connector.cli.common import Obj, pass_obj
from connector.cli.output import render_table, terminal_safe, write_csv
from connector.reports import (
    DIMENSIONS,
    MODELS,
    RangeError,
    ReportRange,
    delivery_report,
    jsonable,
    model_comparison,
    opportunity_report,
    parse_range,
    source_report,
    source_report_options,
)
from connector.reports.data_driven import learning_options
from connector.reports.kpis import KPIS, display
from connector.storage.models import utcnow

FORMATS = click.Choice(["table", "csv", "json"])


def _range(start: str | None, end: str | None) -> ReportRange:
    """The range from --from/--to; bad dates or ranges are usage errors (exit code 2)."""
    try:
        return parse_range(start, end, today=utcnow().date(), names=("--from", "--to"))
    except RangeError as exc:
        raise click.BadParameter(exc.message, param_hint=exc.field) from None


@contextmanager
def _session(obj: Obj) -> Iterator[Session]:
    """A database session; the connection pool is closed when the command is done."""
    rt = obj.runtime()
    try:
        with rt.sessions() as session:
            yield session
    finally:
        rt.close()


def _common(func):
    func = click.option("--from", "start", help="First day, YYYY-MM-DD (default: 30 days ago).")(
        func
    )
    func = click.option("--to", "end", help="Last day, YYYY-MM-DD (default: today).")(func)
    return click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)(func)


@click.group()
def report() -> None:
    """Reports: sources, opportunities, delivery, models."""


@report.command("sources")
@_common
@click.option("--by", type=click.Choice(DIMENSIONS), default="channel", show_default=True)
@click.option("--model", type=click.Choice(MODELS), help="Default: attribution.model.")
@pass_obj
def sources(obj: Obj, start, end, fmt, by, model) -> None:
    """What each channel, source/medium, campaign or keyword earned."""
    rng = _range(start, end)
    settings = obj.settings()
    with _session(obj) as session:
        data = source_report(
            session,
            rng,
            by=by,
            model=model or settings.attribution.model,
            **source_report_options(settings),
        )
    columns = [
        ("group", by),
        ("visits", "visits"),
        ("leads", "leads"),
        *([("mqls", "MQLs"), ("sqls", "SQLs")] if data["lifecycle_mapped"] else []),
        ("opportunities", "opps"),
        ("won_deals", "won"),
        ("revenue", f"revenue {data['currency']}"),
        ("spend", "spend"),
    ]
    kpi_cols = [(k.key, k.short) for k in KPIS if data["lifecycle_mapped"] or k.key != "mql_to_sql"]
    kinds = {k.key: k.kind for k in KPIS}
    table, sheet = [], []
    for row in [*data["rows"], data["totals"]]:
        line = {
            label: display(row[key], "money" if key in ("revenue", "spend") else "number")
            for key, label in columns
        }
        line[by] = row["group"]
        for key, label in kpi_cols:
            line[label] = display(row["kpis"][key], kinds[key])
        table.append(line)
        sheet.append(
            {
                by: row["group"],
                **{key: row[key] for key, _ in columns[1:]},
                "currency": data["currency"],
                **{key: row["kpis"][key] for key, _ in kpi_cols},
            }
        )
    _emit(fmt, data, table, sheet)
    if data["unconverted_currencies"] and fmt == "table":
        click.echo(
            f"note: no rate for {', '.join(data['unconverted_currencies'])} in reports.fx_rates;"
            " those deals are left out of revenue",
            err=True,
        )


@report.command("opportunities")
@_common
@click.option("--touch", type=click.Choice(["first", "last"]), default="first", show_default=True)
@click.option(
    "--by", type=click.Choice(["channel", "source"]), default="channel", show_default=True
)
@pass_obj
def opportunities(obj: Obj, start, end, fmt, touch, by) -> None:
    """Deals by current stage and first/last-touch source, with stage conversion."""
    rng = _range(start, end)
    with _session(obj) as session:
        data = opportunity_report(session, rng, touch=touch, by=by)
    table, sheet = [], []
    for row in data["rows"]:
        line = {by: row["group"], "deals": str(row["total"])}
        cells: dict[str, Any] = {by: row["group"], "deals": row["total"]}
        for stage in row["stages"]:
            conv = display(stage["conversion_from_previous"], "percent")
            line[stage["label"]] = f"{stage['current']} ({conv})"
            cells[stage["label"]] = stage["current"]
            cells[f"{stage['label']} conversion"] = stage["conversion_from_previous"]
        table.append(line)
        sheet.append(cells)
    _emit(fmt, data, table, sheet)


@report.command("delivery")
@_common
@pass_obj
def delivery(obj: Obj, start, end, fmt) -> None:
    """Per platform: accepted, pending, skipped, rejected, dead; reasons; match rates."""
    rng = _range(start, end)
    settings = obj.settings()
    with _session(obj) as session:
        data = delivery_report(
            session,
            rng,
            currency=settings.currency,
            fx_rates=settings.reports.fx_rates,
        )
    table, sheet = [], []
    for platform, info in data["platforms"].items():
        line = {"platform": platform}
        cells: dict[str, Any] = {"platform": platform}
        line["net"] = f"{info['net']['conversions']} / {display(info['net']['value'], 'money')}"
        cells["net_conversions"] = info["net"]["conversions"]
        cells["net_value"] = info["net"]["value"]
        for status, slot in info["by_status"].items():
            line[status] = f"{slot['conversions']} / {display(slot['value'], 'money')}"
            cells[f"{status}_conversions"] = slot["conversions"]
            cells[f"{status}_value"] = slot["value"]
        held = info["retracted"]
        line["retracted"] = f"{held['conversions']} / {display(held['value'], 'money')}"
        cells["retracted_conversions"] = held["conversions"]
        cells["retracted_value"] = held["value"]
        line["match rate"] = display(info["match_rate"], "percent")
        cells["currency"] = data["currency"]
        cells["match_rate"] = info["match_rate"]
        table.append(line)
        sheet.append(cells)
    _emit(fmt, data, table, sheet)
    if fmt == "table":
        click.echo(
            f"won revenue {display(data['won_revenue'], 'money')} {data['currency']}; "
            f"matched to a journey: {display(data['journey_match_rate'], 'percent')}"
        )
        for platform, info in data["platforms"].items():
            for reason in info["reasons"][:5]:
                click.echo(
                    terminal_safe(
                        f"  {platform} {reason['status']} x{reason['count']} "
                        f"{reason['code']}: {reason['example']}"
                    )
                )
            for never in info["not_planned"][:5]:
                click.echo(
                    terminal_safe(
                        f"  {platform} not planned x{never['count']} {never['what']}: "
                        f"{never['reason']}"
                    )
                )


@report.command("models")
@_common
@click.option("--by", type=click.Choice(DIMENSIONS), default="channel", show_default=True)
@pass_obj
def models(obj: Obj, start, end, fmt, by) -> None:
    """Revenue per group under every attribution model, side by side."""
    rng = _range(start, end)
    settings = obj.settings()
    with _session(obj) as session:
        data = model_comparison(
            session,
            rng,
            by=by,
            currency=settings.currency,
            fx_rates=settings.reports.fx_rates,
            **learning_options(settings),
        )
    table = [
        {by: row["group"], **{m: display(v, "money") for m, v in row["revenue"].items()}}
        for row in data["rows"]
    ]
    sheet = [
        {by: row["group"], **row["revenue"], "currency": data["currency"]} for row in data["rows"]
    ]
    _emit(fmt, data, table, sheet)


@report.command("lead-values")
@_common
@click.option(
    "--by", type=click.Choice(["channel", "campaign"]), default="channel", show_default=True
)
@pass_obj
def lead_values(obj: Obj, start, end, fmt, by) -> None:
    """Per lead stage, source and month: value sent at lead time vs revenue won since."""
    from connector.reports.lead_values import default_start, lead_value_report

    rng = _range(start or default_start(utcnow().date()).isoformat(), end)
    settings = obj.settings()
    currency = obj.runtime().profile.lead_values.currency or settings.currency
    with _session(obj) as session:
        data = lead_value_report(session, rng, currency=currency, by=by, now=utcnow())
    sheet = [{**row, "currency": data["currency"]} for row in data["rows"]]
    table = [
        {
            "stage": row["stage"],
            by: row["source"],
            "month": row["month"],
            "leads": str(row["leads"]),
            f"predicted {data['currency']}": display(row["predicted"], "money"),
            f"realised {data['currency']}": display(row["realised"], "money"),
            "realised/predicted": display(row["calibration"], "number"),
        }
        for row in data["rows"]
    ]
    _emit(fmt, data, table, sheet)


def _emit(
    fmt: str, data: dict[str, Any], table: list[dict[str, str]], sheet: list[dict[str, Any]]
) -> None:
    """JSON as the API answers; CSV of raw values for spreadsheets; the human table."""
    if fmt == "json":
        click.echo(json.dumps(jsonable(data), indent=2))
    elif fmt == "csv":
        click.echo(write_csv(sheet), nl=False)
    else:
        click.echo(render_table(table))


__all__ = ["COMMANDS", "render_table"]
COMMANDS = [report]
