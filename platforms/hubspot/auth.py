"""``closedloop auth hubspot``: which private app to create, then a check of its token's scopes.

The deal pull reads deals and their contacts; the touch write-back updates contacts and, on
its first run, creates its ``closedloop_*`` contact properties and their group, which needs
the schema-write scope. A token missing any of them fails at the first sync, so the check
names each one missing before the token is stored.
"""

from __future__ import annotations

from typing import Any

import click
import requests

from platforms.auth import Ask, Auth, config_file, raw_platform_sections, store_token

#: Scope -> why closedloop needs it.
SCOPES: dict[str, str] = {
    "crm.objects.deals.read": "read closed deals and their pipelines",
    "crm.objects.contacts.read": "read the deals' contacts (emails, click IDs)",
    "crm.objects.contacts.write": "write touch data back onto contacts",
    "crm.schemas.contacts.write": "create the closedloop_* contact properties (write-back)",
}
ENV = "HUBSPOT_ACCESS_TOKEN"
PRIVATE_APP_INFO = "/oauth/v2/private-apps/get/access-token-info"

HOW_TO = "\n".join(
    [
        "Create a private app for closedloop (HubSpot, as a super admin):",
        "  Settings > Integrations > Private Apps (newer portals: Development > Legacy apps)",
        "  > Create private app; on the Scopes tab tick:",
        *(f"    {scope:<30} {why}" for scope, why in SCOPES.items()),
        "  Create app, then copy its access token (pat-...).",
        "",
    ]
)


def token_scopes(token: str, base_url: str) -> tuple[list[str] | None, str]:
    """The token's scopes (None if HubSpot does not know it) and a line about whose it is.

    Private app tokens (``pat-``) are looked up at HubSpot's private-app endpoint, which the
    SDK does not cover (plain ``requests``); OAuth access tokens through the SDK.
    """
    if token.startswith("pat-"):
        try:
            answer = requests.post(
                base_url.rstrip("/") + PRIVATE_APP_INFO,
                json={"tokenKey": token},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach HubSpot at {base_url}: {exc}") from None
        if answer.status_code != 200:
            return None, _message(answer)
        info = answer.json()
        return list(info.get("scopes") or []), f"private app {info.get('appId')}"
    from hubspot import HubSpot
    from hubspot.oauth.exceptions import ApiException

    client = HubSpot(host=base_url.rstrip("/"))
    try:
        info = client.oauth.access_tokens_api.get(token=token)
    except ApiException as exc:
        return None, f"HubSpot: {exc.reason} ({exc.status})"
    return list(info.scopes or []), f"OAuth app {info.app_id}"


def _message(answer: requests.Response) -> str:
    try:
        body: Any = answer.json()
    except ValueError:
        body = {}
    return f"HubSpot: {body.get('message') or answer.reason} ({answer.status_code})"


@click.command("hubspot")
@click.option("--check-only", is_flag=True, help="Check the token; write nothing.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the token to this file (0600)."
)
@click.pass_context
def command(ctx: click.Context, check_only: bool, output: str | None) -> None:
    """Say which HubSpot private app to create, check its token's scopes, and store it."""
    from platforms.hubspot.settings import HubSpotSettings

    section = raw_platform_sections(config_file(ctx)).get("hubspot") or {}
    base_url = str(section.get("base_url") or HubSpotSettings.model_fields["base_url"].default)
    click.echo(HOW_TO)
    token = click.prompt("Paste the token", hide_input=True).strip()
    scopes, whose = token_scopes(token, base_url)
    if scopes is None:
        click.echo(f"✗ the token is not valid: {whose}", err=True)
        raise SystemExit(1)
    missing = [scope for scope in SCOPES if scope not in scopes]
    for scope in missing:
        click.echo(f"✗ the token lacks {scope} (to {SCOPES[scope]})", err=True)
    if missing:
        click.echo("Tick them on the app's Scopes tab; HubSpot then issues a new token.", err=True)
        raise SystemExit(1)
    click.echo(f"✓ valid token of {whose}, with every scope closedloop needs")
    if check_only:
        return
    store_token("hubspot", token, output, ENV)


AUTH = Auth(
    command=command,
    asks=(
        Ask(
            "access_token",
            "a private app's token (`closedloop auth hubspot` lists the scopes)",
            secret=True,
            env=ENV,
        ),
        Ask(
            "client_secret",
            "the app's client secret: verifies webhook signatures (empty: no webhooks)",
            secret=True,
            env="HUBSPOT_CLIENT_SECRET",
            default="",
        ),
    ),
)
