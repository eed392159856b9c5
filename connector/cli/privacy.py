"""``closedloop forget``: erase a person or visitor everywhere (privacy requests)."""

from __future__ import annotations

import json
import sys

import click

from connector.cli.common import EXIT_CONFIG, Obj, pass_obj
from connector.tracking.forget import forget as forget_person


@click.command("forget")
@click.option("--email", help="Erase the person with this email (and all their devices).")
@click.option("--visitor", "visitor_id", help="Erase this visitor ID and the person it belongs to.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_obj
def forget(obj: Obj, email: str | None, visitor_id: str | None, as_json: bool) -> None:
    """Remove visitors, touchpoints, click IDs, identities, leads and pending conversions."""
    if bool(email) == bool(visitor_id):
        click.echo("give exactly one of --email or --visitor", err=True)
        sys.exit(EXIT_CONFIG)
    runtime = obj.runtime()
    try:
        removed = forget_person(runtime.sessions, email=email, visitor_id=visitor_id)
    except ValueError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_CONFIG)
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps({"removed": removed}))
        return
    total = sum(removed.values())
    click.echo(f"removed {total} rows" + ("" if total else " (nothing stored for that key)"))
    for kind, count in removed.items():
        click.echo(f"  {kind}: {count}")


COMMANDS = [forget]
