"""``closedloop auth google``: mint the refresh token both Google platforms read.

Google's installed-app flow (``google-auth-oauthlib``'s ``InstalledAppFlow``) with a Desktop
OAuth client: the browser consents, Google redirects it to a loopback address, and the code is
exchanged (with PKCE) for a refresh token. The scopes requested are exactly those the enabled
features need, each platform declaring its own (``platforms/<name>/auth.py``, a
:class:`GoogleAuth`), so a token never carries more than the config uses, nor less.

The result is an ``authorized_user`` JSON file (what ``platforms.google_auth`` and
``platforms.google_settings`` accept), written 0600 to the path the YAML's ``credentials``
names. The secret is never printed. A service account is the alternative for Google Analytics
(and for Google Ads accounts that allow it): point ``credentials`` at its key file instead.
"""

from __future__ import annotations

import json
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import click

from platforms.auth import Ask, Auth, config_file, raw_platform_sections, write_secret

#: The port ``--no-browser`` puts in the redirect URI: nothing listens there on the admin's
#: machine, so the browser stops on a "can't connect" page whose address holds the code.
NO_BROWSER_PORT = 8085
PROMPT = "Open this URL in a browser and allow access:\n{url}\n"


@dataclass(frozen=True)
class GoogleAuth(Auth):
    """A Google platform: ``scopes(section)`` maps each enabled feature to the scope it needs.

    ``section`` is the platform's config section as written (not validated), so the scopes can
    be worked out before the credentials file exists.
    """

    scopes: Callable[[Mapping[str, Any]], dict[str, str]] = field(default=lambda _s: {})


def google_platforms() -> dict[str, GoogleAuth]:
    """Registered platforms whose credential is a Google OAuth token."""
    from platforms import AUTH, load

    found = {name: load(path) for name, path in AUTH.items()}
    return {name: auth for name, auth in found.items() if isinstance(auth, GoogleAuth)}


def needed_scopes(sections: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Platform -> {feature: scope} for the enabled Google features of a config.

    A section whose ``credentials`` is a service account's key file needs no sign-in.
    """
    needed = {}
    for name, auth in google_platforms().items():
        section = sections.get(name) or {}
        if _is_service_account(section.get("credentials")):
            continue
        if features := auth.scopes(section):
            needed[name] = features
    return needed


def _is_service_account(credentials: Any) -> bool:
    if isinstance(credentials, Mapping):
        return credentials.get("type") == "service_account"
    if not isinstance(credentials, str):
        return False
    try:
        info = json.loads(Path(credentials).expanduser().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("type") == "service_account"


def credentials_targets(
    sections: Mapping[str, Mapping[str, Any]], platforms: list[str]
) -> set[str]:
    """The ``credentials`` paths the YAML gives for ``platforms`` (inline ones are skipped)."""
    return {
        str(value)
        for name in platforms
        if isinstance(value := (sections.get(name) or {}).get("credentials"), str)
    }


def authorized_user(credentials: Any) -> dict[str, Any]:
    """The ``authorized_user`` JSON google-auth reads back (no short-lived access token)."""
    return {
        "type": "authorized_user",
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "refresh_token": credentials.refresh_token,
        "token_uri": credentials.token_uri,
        "scopes": sorted(credentials.granted_scopes or credentials.scopes or []),
    }


def _client_config(path: str) -> dict[str, Any]:
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.BadParameter(
            f"cannot read {path}: {exc}", param_hint="--client-secrets"
        ) from None
    if not isinstance(config, dict) or "installed" not in config:
        kind = next(iter(config), "?") if isinstance(config, dict) and config else "?"
        raise click.BadParameter(
            f"{path} is not a Desktop app OAuth client (its top-level key is {kind!r}, not "
            "'installed'): in Google Cloud console create an OAuth client ID of type "
            "'Desktop app' and download its JSON",
            param_hint="--client-secrets",
        )
    return config


def _pasted_code(state: str, pasted: str) -> str:
    """The code from the address the browser ended on (or the bare code itself)."""
    pasted = pasted.strip()
    if not pasted.startswith("http"):
        return pasted
    query = {k: v[0] for k, v in parse_qs(urlsplit(pasted).query).items()}
    if "error" in query:
        raise click.ClickException(f"Google refused: {query['error']}")
    if query.get("state") != state:
        raise click.ClickException(
            "the pasted address belongs to another sign-in (its state does not match); "
            "start again and paste the address of this one"
        )
    if "code" not in query:
        raise click.ClickException("the pasted address has no code= parameter")
    return query["code"]


def _run_flow(flow: Any, no_browser: bool, port: int, timeout: int) -> Any:
    if no_browser:
        flow.redirect_uri = f"http://127.0.0.1:{port or NO_BROWSER_PORT}/"
        url, state = flow.authorization_url(access_type="offline", prompt="consent")
        click.echo(PROMPT.format(url=url))
        click.echo(
            "The browser then fails to load a 127.0.0.1 address: that is expected. Copy that "
            "address (or its code= value) from the address bar."
        )
        code = _pasted_code(state, click.prompt("Paste it here", hide_input=True))
        flow.fetch_token(code=code)
        return flow.credentials
    try:
        webbrowser.get()
        can_open = True
    except webbrowser.Error:
        can_open = False
    return flow.run_local_server(
        host="127.0.0.1",
        port=port,
        open_browser=can_open,
        authorization_prompt_message=PROMPT,
        success_message="closedloop has its Google credentials; you can close this tab.",
        timeout_seconds=timeout,
        access_type="offline",
        prompt="consent",
    )


@click.command("google")
@click.option(
    "--client-secrets",
    required=True,
    type=click.Path(dir_okay=False),
    help="The Desktop app OAuth client JSON downloaded from Google Cloud console.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Where to write the credentials (default: the path the config's credentials names).",
)
@click.option("--no-browser", is_flag=True, help="On a server: print the URL, paste back.")
@click.option("--port", type=int, default=0, help="Loopback port (default: any free one).")
@click.option("--timeout", type=int, default=300, help="Seconds to wait for the browser.")
@click.pass_context
def command(
    ctx: click.Context,
    client_secrets: str,
    output: str | None,
    no_browser: bool,
    port: int,
    timeout: int,
) -> None:
    """Sign in with Google and write the refresh token the enabled features need."""
    from google_auth_oauthlib.flow import InstalledAppFlow

    path = config_file(ctx)
    sections = raw_platform_sections(path)
    needed = needed_scopes(sections)
    if not needed:
        names = ", ".join(f"platforms.{n}" for n in google_platforms())
        raise click.UsageError(
            f"{path}: no enabled feature needs a Google sign-in (enable one of {names}; "
            "closedloop init writes them)"
        )
    scopes = sorted({scope for features in needed.values() for scope in features.values()})
    targets = {output} if output else credentials_targets(sections, list(needed))
    if len(targets) != 1:
        where = " and ".join(sorted(targets)) if targets else "no file path"
        raise click.UsageError(
            f"the config's credentials name {where}: pass --output PATH, or set "
            "credentials: /path/google-credentials.json in the Google sections"
        )
    target = targets.pop()
    click.echo("Requesting, for what this config enables:")
    for name, features in needed.items():
        for feature, scope in features.items():
            click.echo(f"  {scope}  ({name}: {feature})")
    flow = InstalledAppFlow.from_client_config(_client_config(client_secrets), scopes=scopes)
    try:
        credentials = _run_flow(flow, no_browser, port, timeout)
    except Warning as exc:  # oauthlib: the token's scopes differ from the ones requested
        missing = sorted(set(scopes) - set(getattr(exc, "new_scope", None) or []))
        raise click.ClickException(
            "Google granted less than requested (a box was unticked on the consent screen); "
            f"missing: {', '.join(missing)}. Run this again and allow all of them."
        ) from None
    except Exception as exc:
        if type(exc).__module__.startswith(("oauthlib", "google_auth_oauthlib", "requests")):
            raise click.ClickException(f"the Google sign-in failed: {exc}") from None
        raise
    if not credentials.refresh_token:
        raise click.ClickException("Google returned no refresh token; run this again")
    written = write_secret(target, json.dumps(authorized_user(credentials), indent=2) + "\n")
    click.echo(f"wrote {written} (mode 0600)")
    click.echo("In the config, each Google section reads it with:")
    for name in needed:
        click.echo(f"  platforms.{name}.credentials: {written}")


#: Every Google section's credentials key, for ``closedloop init``.
CREDENTIALS_ASK = Ask(
    "credentials",
    "authorized_user JSON from `closedloop auth google` (or a service account key file)",
    default="google-credentials.json",
    path=True,
)
