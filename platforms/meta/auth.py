"""``closedloop auth meta``: which token to create, then a check of the one pasted (debug_token).

The Conversions API and the insights edge take a system user's access token (Business
Settings), which does not expire; a personal user token expires within 60 days and stops every
delivery when it does, so the check says so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import click

from platforms.auth import Ask, Auth, config_file, raw_platform_sections, store_token

#: Conversions API events need ads_management; the insights (spend) edge needs ads_read.
CONVERSIONS_PERMISSION = "ads_management"
INSIGHTS_PERMISSION = "ads_read"
ENV = "META_ACCESS_TOKEN"

HOW_TO = f"""\
Create a system-user access token for closedloop (Meta Business Suite):
  1. Business Settings > Users > System users > Add: a system user (role: Admin or Employee).
  2. Assign assets to it: your pixel/dataset (Events Manager: Manage) and, for spend reports,
     the ad account (View performance).
  3. Generate new token: choose your app, token expiration "Never", permissions
     {CONVERSIONS_PERMISSION} (Conversions API) and {INSIGHTS_PERMISSION} (spend reports).
"""


def section_settings(ctx: click.Context) -> tuple[dict[str, Any], str, str]:
    """``platforms.meta`` as written (the token may not be in it yet), Graph URL, version."""
    from platforms.meta.settings import MetaSettings

    section = raw_platform_sections(config_file(ctx)).get("meta") or {}
    fields = MetaSettings.model_fields
    return (
        section,
        str(section.get("graph_url") or fields["graph_url"].default),
        str(section.get("api_version") or fields["api_version"].default),
    )


def graph_api(token: str, graph_url: str, api_version: str) -> Any:
    """The SDK on its own session (as ``platforms.meta.client.build_api``), for any token."""
    from facebook_business.api import FacebookAdsApi
    from facebook_business.session import FacebookSession

    session = FacebookSession(access_token=token, timeout=30)
    session.GRAPH = graph_url.rstrip("/")
    return FacebookAdsApi(session, api_version=api_version)


def token_problems(info: dict[str, Any], needs_insights: bool) -> list[str]:
    """What is wrong with a token, from ``debug_token``'s ``data`` (empty: nothing)."""
    if not info.get("is_valid"):
        error = info.get("error") or {}
        return [f"the token is not valid: {error.get('message', 'no reason given')}"]
    scopes = set(info.get("scopes") or [])
    needed = [CONVERSIONS_PERMISSION] + ([INSIGHTS_PERMISSION] if needs_insights else [])
    problems = [f"the token lacks the {p} permission" for p in needed if p not in scopes]
    if info.get("expires_at"):
        when = datetime.fromtimestamp(int(info["expires_at"]), UTC).strftime("%Y-%m-%d")
        problems.append(
            f"the token expires on {when}: create a system user's token with expiration Never"
        )
    return problems


def debug_token(token: str, graph_url: str, api_version: str) -> dict[str, Any]:
    """``GET /debug_token`` for ``token``, asked with the token itself (a system user may)."""
    from facebook_business.exceptions import FacebookRequestError

    api = graph_api(token, graph_url, api_version)
    try:
        response = api.call("GET", ("debug_token",), params={"input_token": token})
    except FacebookRequestError as exc:
        return {"is_valid": False, "error": {"message": exc.api_error_message()}}
    return dict(response.json().get("data") or {})


@click.command("meta")
@click.option("--check-only", is_flag=True, help="Check the token; write nothing.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the token to this file (0600)."
)
@click.pass_context
def command(ctx: click.Context, check_only: bool, output: str | None) -> None:
    """Say which Meta token to create, check the one pasted, and store it."""
    section, graph_url, api_version = section_settings(ctx)
    click.echo(HOW_TO)
    token = click.prompt("Paste the token", hide_input=True).strip()
    info = debug_token(token, graph_url, api_version)
    problems = token_problems(info, needs_insights=bool(section.get("ad_account_id")))
    for problem in problems:
        click.echo(f"✗ {problem}", err=True)
    if problems:
        raise SystemExit(1)
    click.echo(
        f"✓ valid {info.get('type', 'token').lower().replace('_', ' ')} token of "
        f"{info.get('application', 'your app')}, permissions: {', '.join(info['scopes'])}"
    )
    if check_only:
        return
    store_token("meta", token, output, ENV)


AUTH = Auth(
    command=command,
    asks=(
        Ask(
            "pixel_id",
            "the pixel (dataset) ID: `closedloop meta pixels` lists them",
            question="Meta pixel/dataset ID (empty: look it up later with closedloop meta pixels)",
            default="",
        ),
        Ask(
            "access_token",
            "a system user's token (`closedloop auth meta` says which)",
            secret=True,
            env=ENV,
        ),
        Ask(
            "ad_account_id",
            "for spend reports (act_ and digits, Ads Manager's account menu); empty: none",
            question="Meta ad account ID (act_...; empty to skip spend)",
            default="",
        ),
    ),
)
