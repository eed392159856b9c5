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
    sheets,
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
    table = []
    for row in [*data["rows"], data["totals"]]:
        line = {
            label: display(row[key], "money" if key in ("revenue", "spend") else "number")
            for key, label in columns
        }
        line[by] = row["group"]
        for key, label in kpi_cols:
            line[label] = display(row["kpis"][key], kinds[key])
        table.append(line)
    _emit(fmt, data, table, sheets.sources_sheet(data))
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
    table = []
    for row in data["rows"]:
        line = {by: row["group"], "deals": str(row["total"])}
        for stage in row["stages"]:
            conv = display(stage["conversion_from_previous"], "percent")
            line[stage["label"]] = f"{stage['current']} ({conv})"
        table.append(line)
    _emit(fmt, data, table, sheets.opportunities_sheet(data, by))


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
    table = []
    for platform, info in data["platforms"].items():
        line = {"platform": platform}
        line["net"] = f"{info['net']['conversions']} / {display(info['net']['value'], 'money')}"
        for status, slot in info["by_status"].items():
            line[status] = f"{slot['conversions']} / {display(slot['value'], 'money')}"
        held = info["retracted"]
        line["retracted"] = f"{held['conversions']} / {display(held['value'], 'money')}"
        line["match rate"] = display(info["match_rate"], "percent")
        table.append(line)
    _emit(fmt, data, table, sheets.delivery_sheet(data))
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
    _emit(fmt, data, table, sheets.models_sheet(data))


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
