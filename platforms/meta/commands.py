"""``closedloop meta ...``: what the Meta account holds, so the admin copies an ID."""

from __future__ import annotations

import click

from platforms.meta.auth import graph_api, section_settings


@click.group("meta")
def group() -> None:
    """Look up IDs in the Meta account."""


@group.command("pixels")
@click.option("--ad-account", help="act_... (default: the config's platforms.meta.ad_account_id).")
@click.pass_context
def pixels(ctx: click.Context, ad_account: str | None) -> None:
    """List the ad account's pixels (datasets): ID, name, when it last received an event."""
    from facebook_business.adobjects.adaccount import AdAccount
    from facebook_business.adobjects.adspixel import AdsPixel
    from facebook_business.exceptions import FacebookRequestError

    from platforms.meta.client import ad_account_node

    section, graph_url, api_version = section_settings(ctx)
    account = ad_account or section.get("ad_account_id")
    token = section.get("access_token")
    if not account:
        raise click.UsageError("no ad account: pass --ad-account act_... or set ad_account_id")
    if not token:
        raise click.UsageError(
            "platforms.meta.access_token is not set (its variable or file): "
            "see closedloop auth meta"
        )
    api = graph_api(str(token), graph_url, api_version)
    fields = [AdsPixel.Field.id, AdsPixel.Field.name, AdsPixel.Field.last_fired_time]
    try:
        rows = list(AdAccount(ad_account_node(str(account)), api=api).get_ads_pixels(fields=fields))
    except FacebookRequestError as exc:
        raise click.ClickException(f"Meta refused: {exc.api_error_message()}") from None
    if not rows:
        click.echo(f"{ad_account_node(str(account))} has no pixels (create one in Events Manager)")
        return
    click.echo(f"{'ID':<18} {'LAST FIRED':<26} NAME")
    for row in rows:
        fired = row.get(AdsPixel.Field.last_fired_time) or "never"
        click.echo(f"{row[AdsPixel.Field.id]:<18} {fired:<26} {row.get(AdsPixel.Field.name, '')}")
    click.echo("Copy the ID into platforms.meta.pixel_id.")


#: What the registry's ``commands`` entry names (``connector.cli.platform_commands`` mounts it).
COMMANDS = [group]
