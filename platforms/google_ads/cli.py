"""``closedloop google-ads conversion-actions``: list the account's actions to copy an ID."""

from __future__ import annotations

import json
import logging

import click

from connector.cli.common import EXIT_CONFIG, EXIT_FAILURES, Obj, pass_obj
from connector.cli.output import render_table
from connector.errors import ConfigError, PlatformError
from platforms.google_ads.conversion_actions import conversion_actions


@click.group("google-ads")
def google_ads() -> None:
    """Google Ads helpers."""


@google_ads.command("conversion-actions")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_obj
def list_actions(obj: Obj, fmt: str) -> None:
    """The customer's conversion actions (id, name, type, status, click window, counting).

    Uploads need an ENABLED action of type UPLOAD_CLICKS; copy its ID into
    ``platforms.google_ads.conversion_action_id`` and its window into ``click_window_days``.
    """
    settings = obj.settings().platforms.google_ads
    if not settings.customer_id or settings.credentials is None:
        click.echo(
            "config error: platforms.google_ads: customer_id and credentials are required",
            err=True,
        )
        raise SystemExit(EXIT_CONFIG)
    # The SDK logs every request at INFO; here that would only interleave with the table.
    sdk_log = logging.getLogger("google.ads.googleads.client")
    level = sdk_log.level
    sdk_log.setLevel(logging.WARNING)
    try:
        actions = conversion_actions(settings)
    except ConfigError as exc:
        click.echo(f"config error: {exc}", err=True)
        raise SystemExit(EXIT_CONFIG) from None
    except PlatformError as exc:
        click.echo(f"Google Ads: {exc}", err=True)
        raise SystemExit(EXIT_FAILURES) from None
    finally:
        sdk_log.setLevel(level)
    rows = [a.as_row() for a in actions]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    elif rows:
        click.echo(render_table(rows))
    else:
        click.echo("no conversion actions in this account")


COMMANDS = [google_ads]
