"""``closedloop import revenue FILE.csv``: sales from a file, checked whole before any is stored."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from connector.cli.common import EXIT_CONFIG, EXIT_FAILURES, EXIT_OK, Obj, pass_obj
from connector.errors import LeaseHeld
from connector.revenue.csv_import import TARGETS, RowError, import_file, parse_mapping
from connector.revenue.kick import TRIGGER
from connector.revenue.sales import check_sale
from connector.runs import RunService
from connector.runtime import Runtime

DEFAULT_SOURCE = "import"


@click.group("import")
def import_group() -> None:
    """Import data from files."""


@import_group.command("revenue")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    default=DEFAULT_SOURCE,
    show_default=True,
    help="The source the sales belong to (their deals are revenue:<source>:<order_id>).",
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help=f"Read FIELD from COLUMN (FIELD: {', '.join(TARGETS)}); columns named like a field "
    "need none.",
)
@click.option("--dry-run", is_flag=True, help="Check and say what would change; store nothing.")
@click.option(
    "--skip-bad-rows", is_flag=True, help="Import the good rows; list each bad one with why."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--no-sync",
    is_flag=True,
    help="Leave the sales to the next scheduled run instead of syncing them now.",
)
@pass_obj
def import_revenue(
    obj: Obj,
    file: Path,
    source: str,
    maps: tuple[str, ...],
    dry_run: bool,
    skip_bad_rows: bool,
    as_json: bool,
    no_sync: bool,
) -> None:
    """Import sales from a CSV file: a file with a bad row imports nothing (see --skip-bad-rows).

    Each row is a sale as POST /revenue takes it; importing the same file again changes
    nothing, a changed value restates, status refunded/cancelled retracts. Stored changes are
    synced at once (unless --no-sync, or revenue.sync_after_seconds is null).
    """
    try:
        mapping = parse_mapping(maps)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--map") from None
    _, problems = check_sale({"source": source}, source)
    if any(p.field == "source" for p in problems):
        raise click.BadParameter("1 to 15 of a-z and 0-9", param_hint="--source")
    runtime = obj.runtime()
    try:

        def skipped(error: RowError) -> None:
            click.echo(f"skipped {error}", err=True)

        def progress(done: int) -> None:
            click.echo(f"\r{done} rows", err=True, nl=False)

        report = import_file(
            runtime,
            file,
            mapping,
            source,
            skip_bad_rows=skip_bad_rows,
            dry_run=dry_run,
            progress=progress if sys.stderr.isatty() else None,
            skipped=skipped,
        )
        changed = report.outcomes.get("stored", 0) + report.outcomes.get("updated", 0)
        if report.imported and changed and not no_sync:
            sync_now(runtime, as_json)
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print(report, dry_run)
    if report.unreadable or (report.errors and not report.rows):
        sys.exit(EXIT_CONFIG)
    sys.exit(EXIT_FAILURES if report.bad_rows and not skip_bad_rows else EXIT_OK)


def sync_now(runtime: Runtime, quiet: bool) -> None:
    """The run a post would kick, here and now: the process ends with the command."""
    if runtime.settings.revenue.sync_after_seconds is None:
        return
    try:
        run_id, status = RunService(runtime).run_now(TRIGGER, deal_ids=[])
    except LeaseHeld:
        message = "a run is in progress elsewhere: the sales go out with the next run"
    else:
        message = f"run {run_id} {status}: the new sales were synced"
    click.echo(message, err=quiet)


def _print(report, dry_run: bool) -> None:
    click.echo(f"columns: {', '.join(report.columns)}")
    click.echo("mapping: " + ", ".join(f"{c} -> {f}" for c, f in report.mapping.items()))
    click.echo(f"rows: {report.rows}, bad: {report.bad_rows}")
    for error in report.errors:
        click.echo(f"  {error}")
    if report.unreadable:
        click.echo("nothing imported: the file cannot be read to its end")
        return
    if report.bad_rows and not report.imported and not dry_run:
        click.echo("nothing imported: fix the rows above, or --skip-bad-rows")
        return
    verb = "would be" if dry_run else "were"
    for outcome in ("stored", "updated", "unchanged"):
        click.echo(f"{report.outcomes.get(outcome, 0)} {verb} {outcome}")


COMMANDS = [import_group]
