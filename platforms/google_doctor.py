"""Doctor checks shared by the Google platforms: the token refreshes and holds the scopes.

The refresh asks for no particular scope (a refresh token then yields every scope it was
granted), and Google's ``tokeninfo`` endpoint says which scopes the access token carries, so
a missing scope is named before any API call fails on it. ``tokeninfo`` lives next to the
``token_uri`` of the credentials (``https://oauth2.googleapis.com/token`` ->
``.../tokeninfo``), which is also how the sandbox answers it. Google ships no SDK call for
``tokeninfo``; it is one GET through ``requests``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request

from connector.errors import ConfigError
from platforms.doctor import Findings
from platforms.google_auth import build_credentials, credentials_info

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
REAUTHORISE = (
    "run `closedloop auth google` (or mint a refresh token with these scopes) and point {key} at it"
)


def tokeninfo_url(token_uri: str | None) -> str:
    """Google's tokeninfo URL on the host that issues the tokens."""
    parts = urlsplit(token_uri or GOOGLE_TOKEN_URI)
    path = parts.path.rsplit("/", 1)[0] + "/tokeninfo"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def check_token(
    findings: Findings,
    setting: Any,
    key: str,
    needed: list[str],
    *,
    timeout: float,
) -> bool:
    """Rows "OAuth token refreshes" and "token scopes"; True when both pass."""
    fix = REAUTHORISE.format(key=key)
    access_token = None
    with findings.guard("OAuth token refreshes", fix):
        try:
            info = credentials_info(setting, key) if setting is not None else None
        except ConfigError as exc:
            findings.stop("OAuth token refreshes", str(exc), f"fix {key}")
        if info is None:
            findings.stop("OAuth token refreshes", f"{key} is not set", fix)
        kind = info.get("type", "authorized_user")
        # A refresh token yields all it was granted when no scope is asked for; a service
        # account must ask for the scopes it wants.
        scopes = needed if kind == "service_account" else []
        credentials = build_credentials(setting, scopes, key)
        try:
            credentials.refresh(_Timed(Request(), timeout))
        except auth_exceptions.RefreshError as exc:
            findings.stop("OAuth token refreshes", f"Google refused the credentials: {exc}", fix)
        access_token = credentials.token
        findings.ok("OAuth token refreshes", f"{kind} credentials from {key}")
    if access_token is None:
        return False
    with findings.guard("token scopes", fix):
        url = tokeninfo_url(info.get("token_uri"))
        try:
            response = requests.get(url, params={"access_token": access_token}, timeout=timeout)
        except requests.RequestException as exc:
            # The message would carry the URL, access token included: name the host only.
            host = urlsplit(url).netloc
            findings.stop("token scopes", f"{type(exc).__name__} talking to {host}", fix)
        findings.saw_date(response.headers.get("Date"))
        body = response.json() if response.content else {}
        if response.status_code != 200:
            findings.stop(
                "token scopes",
                f"tokeninfo refused the token: {body.get('error_description') or body}",
                fix,
            )
        granted = set(str(body.get("scope", "")).split())
        missing = [s for s in needed if s not in granted]
        if missing:
            findings.stop("token scopes", f"missing {', '.join(missing)}", fix)
        findings.ok("token scopes", "has " + ", ".join(needed))
        return True
    return False


class _Timed:
    """google-auth's transport with our timeout instead of its 120 s default."""

    def __init__(self, request: Request, timeout: float) -> None:
        self._request = request
        self._timeout = timeout

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return self._request(*args, **kwargs)
