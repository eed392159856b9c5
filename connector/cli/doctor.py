"""``closedloop doctor``: live, read-only checks of the store and every enabled platform."""

from __future__ import annotations

import click

from connector.cli.common import EXIT_FAILURES, EXIT_OK, Obj, pass_obj
from connector.doctor import run_doctor
from connector.doctor.render import as_json, as_table


@click.command("doctor")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--timeout", type=float, default=20.0, show_default=True, help="Seconds per call.")
@pass_obj
def doctor(obj: Obj, fmt: str, timeout: float) -> None:
    """Check tokens, scopes, accounts and the store; exit 1 if any check fails."""
    # No upgrade: "migrations current" must see the database as it is.
    rt = obj.runtime(upgrade=False)
    try:
        report = run_doctor(rt, timeout=timeout)
    finally:
        rt.close()  # the pool's connections are closed, not left to the garbage collector
    click.echo(as_json(report) if fmt == "json" else as_table(report))
    raise SystemExit(EXIT_OK if report.ok else EXIT_FAILURES)


COMMANDS = [doctor]
