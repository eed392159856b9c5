"""``closedloop backfill --since YYYY-MM-DD``: replay older closed-won deals."""

from __future__ import annotations

import sys

import click

from connector.cli import dry_run as dry_run_report
from connector.cli.common import EXIT_FAILURES, EXIT_OK, Obj, pass_obj
from connector.cli.progress import step_progress
from connector.errors import LeaseHeld
from connector.runs import SUCCEEDED, get_run
from connector.runtime import Runtime
from connector.storage.models import utcnow
from connector.sync.backfill import plan_notes, run_backfill, since_start


@click.command()
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Replay deals modified on or after this day (UTC).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Plan in memory and check it with the platforms' validate-only modes; store nothing.",
)
@pass_obj
def backfill(obj: Obj, since: object, dry_run: bool) -> None:
    """Replay closed-won deals since a date, planning only what each platform still accepts."""
    runtime = obj.runtime()
    try:
        code = _backfill(runtime, since, dry_run)
    finally:
        runtime.close()  # return pooled connections before exiting
    sys.exit(code)


def _backfill(runtime: Runtime, since: object, dry_run: bool) -> int:
    start = since_start(since.date())  # type: ignore[attr-defined]
    click.echo(f"backfill from {start:%Y-%m-%d}: what each platform can still accept", err=True)
    for platform, note in plan_notes(runtime, start, utcnow()).items():
        click.echo(f"  {platform}: {note}", err=True)
    with step_progress(sys.stderr) as progress:
        try:
            run_id, status = run_backfill(runtime, start, dry_run=dry_run, progress=progress)
        except LeaseHeld as held:
            progress.finish()
            click.echo(f"not started: {held}", err=True)
            return EXIT_FAILURES
    run = get_run(runtime, run_id)
    counts = (run.counts if run else None) or {}
    sync = ((run.summary if run else None) or {}).get("sync", {})
    click.echo(f"run {run_id}: {status}{' (dry run)' if dry_run else ''}")
    for key in (
        "deals_pulled",
        "deals_won",
        "deals_skipped",
        "conversions_planned",
        "restatements_planned",
        "retractions_planned",
    ):
        click.echo(f"  {key}: {counts.get(key, 0)}")
    for platform, reasons in sorted((sync.get("not_planned") or {}).items()):
        for reason, n in sorted(reasons.items()):
            click.echo(f"  not planned for {platform}: {n} ({reason})")
    for code, n in sorted((sync.get("skipped") or {}).items()):
        click.echo(f"  skipped: {n} ({code})")
    if dry_run:
        for line in dry_run_report.report_lines((run.summary if run else None) or {}):
            click.echo(line)
    if run and run.error:
        click.echo(f"  error: {run.error}")
    refused = dry_run and dry_run_report.rejections((run.summary if run else None) or {}) > 0
    return EXIT_OK if status == SUCCEEDED and not refused else EXIT_FAILURES


COMMANDS = [backfill]
