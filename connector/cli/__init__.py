"""The ``closedloop`` command line.

Exit codes: 0 ok, 1 finished with failures, 2 bad usage or config.
"""

from __future__ import annotations

import sys

import click

from connector.cli.common import EXIT_CONFIG, Obj
from connector.cli.ops import config_group, db_group, serve, sync, worker
from connector.errors import ConfigError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-c",
    "--config",
    "config_path",
    envvar="CLOSEDLOOP_CONFIG",
    type=click.Path(dir_okay=False),
    help="Config file (default ./closedloop.yaml, or $CLOSEDLOOP_CONFIG).",
)
@click.version_option(package_name="closedloop")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    """closedloop: send the revenue your leads became back to Google Ads, GA4 and Meta."""
    ctx.obj = Obj(config_path)


for command in (serve, worker, sync, config_group, db_group):
    cli.add_command(command)


def _register_optional() -> None:
    """Commands of parts that may be absent in a trimmed install."""
    for module_name in (
        "connector.cli.demo",
        "connector.cli.outbox",
        "connector.cli.report",
        "connector.cli.privacy",
        "connector.cli.backfill",
        "connector.cli.dashboard",
        "connector.cli.doctor",
        "connector.cli.platform_commands",
        "connector.cli.auth",
        "connector.cli.init",
        "connector.cli.revenue",
    ):
        try:
            module = __import__(module_name, fromlist=["COMMANDS"])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        for command in module.COMMANDS:
            cli.add_command(command)


_register_optional()


def _set_config_path(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``-c`` given after the subcommand wins over the one before it (or the env var)."""
    if value is not None:
        ctx.ensure_object(Obj).config_path = value


def _accept_config_everywhere(group: click.Group) -> None:
    """Let every command take ``-c PATH`` in either place: ``closedloop config check -c x.yaml``.

    The option is added to the parsed parameters only (not exposed to the callbacks), so the
    commands keep reading the path from the shared :class:`Obj`.
    """
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _accept_config_everywhere(command)
        if any("-c" in p.opts for p in command.params if isinstance(p, click.Option)):
            continue
        command.params.append(
            click.Option(
                ["-c", "--config"],
                type=click.Path(dir_okay=False),
                expose_value=False,
                is_eager=True,
                callback=_set_config_path,
                help="Config file (same as the top-level -c).",
            )
        )


_accept_config_everywhere(cli)


def main() -> None:
    """Console-script entry point."""
    try:
        cli.main(standalone_mode=True)
    except ConfigError as exc:
        click.echo(f"config error: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
