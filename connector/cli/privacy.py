"""``closedloop forget``: erase a person or visitor everywhere (privacy requests)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from connector.cli.common import EXIT_CONFIG, Obj, pass_obj
from connector.tracking import forget as privacy


@click.command("forget")
@click.option("--email", help="Erase the person with this email (and all their devices).")
@click.option("--visitor", "visitor_id", help="Erase this visitor ID and the person it belongs to.")
@click.option(
    "--retry",
    is_flag=True,
    help="Ask the platforms again for erasures still due from earlier requests.",
)
@click.option(
    "--failed", is_flag=True, help="With --retry: also those recorded as failed (after a fix)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_obj
def forget(
    obj: Obj,
    email: str | None,
    visitor_id: str | None,
    retry: bool,
    failed: bool,
    as_json: bool,
) -> None:
    """Erase a person from our tables, the outbox, the CRM and the platforms that can delete.

    Tables lose the person's visitors, touchpoints, click IDs, leads and lifecycle rows; the
    outbox keeps amounts, statuses and dedup keys but loses every identifier; the CRM contact
    loses the properties closedloop wrote; GA4 is asked to delete their client IDs when
    platforms.ga4.user_deletion is on. A platform that fails is asked again later.
    """
    if retry == bool(email or visitor_id) or (email and visitor_id) or (failed and not retry):
        click.echo("give exactly one of --email, --visitor or --retry", err=True)
        sys.exit(EXIT_CONFIG)
    runtime = obj.runtime()
    try:
        if retry:
            report = privacy.retry(runtime, failed=failed)
        else:
            report = privacy.erase(runtime, email=email, visitor_id=visitor_id)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_CONFIG)
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps(report))
    elif retry:
        _echo_outstanding(report["outstanding"], revived=report["revived"])
    else:
        _echo_report(report)


def _echo_report(report: dict[str, Any]) -> None:
    removed = report["removed"]
    total = sum(removed.values())
    click.echo(f"removed {total} rows" + ("" if total else " (nothing stored for that key)"))
    for kind, count in removed.items():
        click.echo(f"  {kind}: {count}")
    outbox = report["outbox"]
    click.echo(
        f"outbox: {outbox['scrubbed']} rows scrubbed of identifiers, "
        f"{outbox['withdrawn']} unsent rows withdrawn"
    )
    for name, place in report["places"].items():
        erased = ", ".join(f"{k}: {v}" for k, v in place["erased"].items())
        line = f"{name} ({place['role']}): {place['done']} of {place['asked']} erased"
        if place["pending"]:
            line += f", {place['pending']} to retry"
        if place["failed"]:
            line += f", {place['failed']} failed"
        click.echo(line + (f" ({erased})" if erased else ""))
        for error in place["errors"]:
            click.echo(f"  {error}")
    if not report["places"]:
        click.echo("platforms: nothing to erase")
    _echo_outstanding(report["outstanding"])


def _echo_outstanding(outstanding: dict[str, int], *, revived: int = 0) -> None:
    if revived:
        click.echo(f"asked again for {revived} erasures recorded as failed")
    if outstanding["pending"] or outstanding["failed"]:
        click.echo(
            f"erasures still outstanding at platforms: {outstanding['pending']} to retry "
            f"(automatic, or `closedloop forget --retry`), {outstanding['failed']} failed "
            "(fix, then `closedloop forget --retry --failed`)"
        )
    else:
        click.echo("nothing outstanding at the platforms")


COMMANDS = [forget]
