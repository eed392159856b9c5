"""``closedloop outbox``: what is stuck in the outbox and why; re-queue dead letters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import click
from sqlalchemy.orm import Session, sessionmaker

import platforms
from connector import health
from connector.cli.common import Obj, pass_obj
from connector.cli.output import terminal_safe
from connector.outbox.admin import OPEN_STATUSES, overview, requeue
from connector.storage.models import utcnow

PLATFORM = click.Choice(sorted(platforms.DESTINATIONS))
STATUS = click.Choice(["pending", "confirming", "dead", "rejected", "skipped", "accepted"])


@click.group("outbox", invoke_without_command=True)
@click.pass_context
def outbox(ctx: click.Context) -> None:
    """Inspect and re-queue the outbox (without a subcommand: ``outbox list``)."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(outbox_list)


@outbox.command("list")
@click.option("--platform", type=PLATFORM, help="Only this destination.")
@click.option(
    "--status",
    "statuses",
    type=STATUS,
    multiple=True,
    help="Statuses to show (repeatable; default pending, confirming, dead, rejected).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_obj
def outbox_list(
    obj: Obj,
    platform: str | None = None,
    statuses: tuple[str, ...] = (),
    as_json: bool = False,
) -> None:
    """Conversions not yet delivered, grouped by platform, status and reason."""
    with _sessions(obj) as sessions:
        groups = overview(sessions, statuses=statuses or OPEN_STATUSES, platform=platform)
        with sessions() as session:
            failing = [h for h in health.failing(session) if platform in (None, h.platform)]
    if not as_json:
        # Why rows are pending: the platform's own failure, which no row carries.
        for state in failing:
            since = state.failing_since.strftime("%Y-%m-%d %H:%M") if state.failing_since else "?"
            click.echo(f"{state.platform} failing since {since} UTC: {state.last_error}")
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "platform": g.destination,
                        "status": g.status,
                        "reason_code": g.reason_code,
                        "count": g.count,
                        "oldest": g.oldest.isoformat() if g.oldest else None,
                        "reason": g.example,
                    }
                    for g in groups
                ],
                indent=2,
            )
        )
        return
    if not groups:
        click.echo("outbox is clear: nothing pending, confirming, dead or rejected")
        return
    if failing:
        click.echo()
    header = ("PLATFORM", "STATUS", "REASON", "COUNT", "OLDEST", "EXAMPLE")
    table = [
        (
            g.destination,
            g.status,
            g.reason_code or "-",
            str(g.count),
            g.oldest.strftime("%Y-%m-%d %H:%M") if g.oldest else "-",
            _short(g.example),
        )
        for g in groups
    ]
    widths = [max(len(row[i]) for row in (header, *table)) for i in range(len(header) - 1)]
    for row in (header, *table):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]).rstrip())


@outbox.command("retry")
@click.option("--platform", type=PLATFORM, help="Only this destination.")
@click.option("--reason", help="Only rows whose reason code is exactly this.")
@click.option("--include-rejected", is_flag=True, help="Also re-queue rejected rows (after a fix).")
@pass_obj
def outbox_retry(
    obj: Obj, platform: str | None, reason: str | None, include_rejected: bool
) -> None:
    """Re-queue dead letters so the next delivery sends them again."""
    with _sessions(obj) as sessions:
        count = requeue(
            sessions,
            now=utcnow(),
            platform=platform,
            reason=reason,
            include_rejected=include_rejected,
        )
    what = "dead or rejected" if include_rejected else "dead"
    click.echo(f"re-queued {count} {what} conversion{'s' if count != 1 else ''}")


@contextmanager
def _sessions(obj: Obj) -> Iterator[sessionmaker[Session]]:
    """The database sessions; the connection pool is closed when the command is done."""
    runtime = obj.runtime()
    try:
        yield runtime.sessions
    finally:
        runtime.close()


def _short(text: str | None, limit: int = 60) -> str:
    if not text:
        return ""
    text = " ".join(terminal_safe(text).split())  # platform texts may quote visitor input
    return text if len(text) <= limit else text[: limit - 1] + "…"


COMMANDS = [outbox]
