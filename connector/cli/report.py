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
from connector.reports.funnel import COSTS, MODES, RATES, STAGES, funnel_report
from connector.reports.kpis import KPIS, display, visible_kpis
from connector.reports.paths import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PATH_MODELS,
    TARGETS,
    conversion_paths,
    path_options,
)
from connector.reports.period import COMPARISONS, with_previous
from connector.reports.velocity import MEASURES, velocity_report
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
    """A reading session (no write lock on SQLite); the pool is closed when the command ends."""
    rt = obj.runtime()
    try:
        with rt.read_sessions() as session:
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
    """Reports: sources, opportunities, delivery, models, paths, funnel, velocity, lead-values."""


@report.command("sources")
@_common
@click.option("--by", type=click.Choice(DIMENSIONS), default="channel", show_default=True)
@click.option("--model", type=click.Choice(MODELS), help="Default: attribution.model.")
@click.option(
    "--compare",
    type=click.Choice(COMPARISONS),
    help="Also show the previous range of the same length and the change.",
)
@pass_obj
def sources(obj: Obj, start, end, fmt, by, model, compare) -> None:
    """What each channel, source/medium, campaign or keyword earned."""
    rng = _range(start, end)
    settings = obj.settings()
    options = source_report_options(settings)
    with _session(obj) as session:

        def run(period: ReportRange) -> dict[str, Any]:
            return source_report(
                session, period, by=by, model=model or settings.attribution.model, **options
            )

        data = run(rng)
        if compare:
            try:
                data = with_previous(data, run, rng)
            except RangeError as exc:
                raise click.BadParameter(exc.message, param_hint="--compare") from None
    columns = [
        ("group", by),
        ("visits", "visits"),
        ("leads", "leads"),
        *([("mqls", "MQLs"), ("sqls", "SQLs")] if data["lifecycle_mapped"] else []),
        ("opportunities", "opps"),
        ("won_deals", "won"),
        ("revenue", f"revenue {data['currency']}"),
        ("spend", "spend"),
        ("impressions", "impr."),
        *([("ga4_sessions", "GA4 sessions")] if data["sessions_note"] else []),
    ]
    kpi_cols = [(k.key, k.short) for k in visible_kpis(data)]
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
    if compare and fmt == "table":
        prev = data["compare"]["range"]
        click.echo(f"\ntotals against {prev['from']} to {prev['to']}:")
        click.echo(render_table(_totals_change(data["totals"], columns[1:], kpi_cols, kinds)))
    if data["sessions_note"] and fmt == "table":
        click.echo(f"note: {data['sessions_note']}", err=True)
    if data["unconverted_currencies"] and fmt == "table":
        click.echo(
            f"note: no rate for {', '.join(data['unconverted_currencies'])} in reports.fx_rates;"
            " those deals are left out of revenue",
            err=True,
        )


def _totals_change(
    totals: dict[str, Any],
    columns: list[tuple[str, str]],
    kpi_cols: list[tuple[str, str]],
    kinds: dict[str, str],
) -> list[dict[str, str]]:
    """One line per figure of the totals: now, before, change and change in percent."""
    lines = []
    figures = [(key, label, totals["previous"][key], "number") for key, label in columns]
    figures += [
        (key, label, totals["previous"]["kpis"][key], kinds[key]) for key, label in kpi_cols
    ]
    for key, label, cmp, kind in figures:
        now = totals["kpis"][key] if key in totals["kpis"] else totals[key]
        kind = "money" if key in ("revenue", "spend") else kind
        lines.append(
            {
                "figure": label,
                "now": display(now, kind),
                "previous": display(cmp["previous"], kind),
                "change": display(cmp["change"], kind),
                "change %": display(cmp["change_pct"], "percent"),
            }
        )
    return lines


@report.command("paths")
@_common
@click.option("--target", type=click.Choice(TARGETS), default="deal", show_default=True)
@click.option("--model", type=click.Choice(PATH_MODELS), help="Default: attribution.model.")
@click.option("--channel", help="Only paths whose credit under --model goes to this channel.")
@click.option(
    "--limit", type=click.IntRange(1, MAX_LIMIT), default=DEFAULT_LIMIT, show_default=True
)
@pass_obj
def paths(obj: Obj, start, end, fmt, target, model, channel, limit) -> None:
    """Top conversion paths (channel sequences, repeats merged) to won deals or leads."""
    rng = _range(start, end)
    settings = obj.settings()
    default = settings.attribution.model
    with _session(obj) as session:
        data = conversion_paths(
            session,
            rng,
            target=target,
            model=model or (default if default in PATH_MODELS else "last_click"),
            channel=channel,
            limit=limit,
            **path_options(settings),
        )
    money = target == "deal"
    credited = money and channel is not None
    table = []
    for row in data["paths"]:
        line = {
            "path": row["label"],
            "conversions": display(row["conversions"]),
            "share": display(row["share"], "percent"),
            **({"revenue": display(row["revenue"], "money")} if money else {}),
            **({"credited": display(row["credited_revenue"], "money")} if credited else {}),
            "median days": display(row["median_days"]),
        }
        table.append(line)
    _emit(fmt, data, table, sheets.paths_sheet(data))
    if fmt == "table":
        click.echo(
            f"{data['conversions']} conversions on {data['distinct_paths']} paths; "
            f"{data['without_journey']} without a journey"
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
        for platform, join in data.get("spend_join", {}).items():
            missed = ", ".join(
                f"{why} {display(v, 'money')}" for why, v in join["not_joined"].items() if v
            )
            click.echo(
                f"  {platform} revenue next to its spend: {display(join['joined'], 'money')} "
                f"of {display(join['revenue'], 'money')} "
                f"({display(join['join_rate'], 'percent')})"
                + (f"; not: {missed}" if missed else "")
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


@report.command("funnel")
@_common
@click.option("--by", type=click.Choice(DIMENSIONS), default="channel", show_default=True)
@click.option("--model", type=click.Choice(MODELS), help="Default: attribution.model.")
@click.option("--mode", type=click.Choice(MODES), default="period", show_default=True)
@pass_obj
def funnel(obj: Obj, start, end, fmt, by, model, mode) -> None:
    """Visitors → leads → MQL → SQL → opportunity → customer, with rates and costs per stage."""
    rng = _range(start, end)
    settings = obj.settings()
    with _session(obj) as session:
        data = funnel_report(
            session,
            rng,
            by=by,
            model=model or settings.attribution.model,
            mode=mode,
            **source_report_options(settings),
        )
    table = []
    for row in [*data["rows"], data["totals"]]:
        line = {by: row["group"]}
        line.update({label: display(row[key]) for key, label in STAGES})
        line.update({name: display(row["rates"][name], "percent") for name in RATES})
        line.update({name: display(row["costs"][name], "money") for name in COSTS})
        line["spend"] = display(row["spend"], "money")
        table.append(line)
    _emit(fmt, data, table, sheets.funnel_sheet(data))


@report.command("velocity")
@_common
@click.option("--by", type=click.Choice(DIMENSIONS), default="channel", show_default=True)
@click.option("--model", type=click.Choice(MODELS), help="Default: attribution.model.")
@pass_obj
def velocity(obj: Obj, start, end, fmt, by, model) -> None:
    """Median and p75 days lead→MQL→SQL→won and the sales cycle, per group."""
    rng = _range(start, end)
    settings = obj.settings()
    with _session(obj) as session:
        data = velocity_report(
            session,
            rng,
            by=by,
            model=model or settings.attribution.model,
            ignore_direct=settings.attribution.ignore_direct,
        )
    table = []
    for row in [*data["rows"], data["totals"]]:
        line = {by: row["group"]}
        for measure in MEASURES:
            cell = row[measure]
            line[measure] = (
                f"{display(cell['median_days'])} / {display(cell['p75_days'])} (n={cell['count']})"
            )
        table.append(line)
    _emit(fmt, data, table, sheets.velocity_sheet(data))
    if fmt == "table":
        click.echo("days: median / p75 (n = durations); linear interpolation (percentile_cont)")


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
