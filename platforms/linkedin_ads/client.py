"""A thin Rest.li client for ``POST /rest/conversionEvents`` (BATCH_CREATE), on ``requests``.

Why not LinkedIn's ``linkedin-api-client`` (``RestliClient``)? It does build this request
(``batch_create`` with ``version_string``), but 0.3.0 (June 2023, still "beta", proprietary
licence) cannot serve a connector: its base URL is a module constant (so it cannot be pointed
at a sandbox or proxy without patching the SDK), ``Session.send`` is called without a timeout
(a stalled connection blocks a worker forever), and any non-2xx answer is turned into a bare
``ResponseFormattingError`` that drops the status, headers and LinkedIn's error body, which
are exactly what tells a rate limit from a revoked token. The protocol itself is small: these
headers, a JSON body ``{"elements": [...]}`` and a per-element status list.

The access token is renewed with the refresh token (LinkedIn's OAuth ``accessToken``
endpoint, ``grant_type=refresh_token``) when one is configured and LinkedIn answers 401.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import requests

from connector.errors import ConfigError
from platforms.linkedin_ads.settings import LinkedInAdsSettings

RESOURCE = "/conversionEvents"
PROTOCOL_VERSION = "2.0.0"
BATCH_CREATE = "BATCH_CREATE"
USER_AGENT = "closedloop"


@dataclass(eq=False)
class LinkedInFailure(Exception):
    """A whole request failed: ``retry`` (later), ``auth`` (renew token) or ``permanent``."""

    kind: str
    code: str
    message: str
    retry_after: float | None = None


@dataclass(frozen=True)
class ElementStatus:
    """LinkedIn's answer for one element of a BATCH_CREATE, in request order."""

    status: int
    error: dict[str, Any] | None


class ConversionsClient:
    """Posts conversion events for one ``platforms.linkedin_ads`` config."""

    def __init__(self, settings: LinkedInAdsSettings, *, timeout: float = 30.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self.session = requests.Session()
        self._token = settings.access_token.get_secret_value() if settings.access_token else None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    # -- requests ------------------------------------------------------------------------------
    def batch_create(self, elements: list[dict[str, Any]]) -> list[ElementStatus]:
        """One BATCH_CREATE; renews the token once on 401 if it can. Raises ``LinkedInFailure``."""
        token = self._token or self.refresh()
        try:
            return self._post(elements, token)
        except LinkedInFailure as failure:
            if failure.kind != "auth" or not self.settings.can_refresh:
                raise
        return self._post(elements, self.refresh(stale=token))

    def _post(self, elements: list[dict[str, Any]], token: str) -> list[ElementStatus]:
        url = self.settings.api_url.rstrip("/") + RESOURCE
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self.settings.api_version,
            "X-Restli-Protocol-Version": PROTOCOL_VERSION,
            "X-RestLi-Method": BATCH_CREATE,
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
        }
        response = self._call(
            "post", url, json={"elements": elements}, headers=headers, what="api_url"
        )
        if response.status_code >= 300:
            raise classify(response)
        try:
            listed = response.json()["elements"]
            statuses = [ElementStatus(int(e["status"]), e.get("error")) for e in listed]
        except (ValueError, KeyError, TypeError):
            raise LinkedInFailure(
                "retry", "bad_response", "LinkedIn answered BATCH_CREATE without elements", 60.0
            ) from None
        if len(statuses) != len(elements):
            raise LinkedInFailure(
                "retry",
                "bad_response",
                f"LinkedIn answered {len(statuses)} statuses for {len(elements)} elements",
                60.0,
            )
        return statuses

    def refresh(self, stale: str | None = None) -> str:
        """A new access token from the refresh token (once per stale token across threads)."""
        settings = self.settings
        if not settings.can_refresh:
            raise ConfigError(
                "no access token, and no refresh_token, client_id and client_secret to get one",
                path="platforms.linkedin_ads.access_token",
            )
        with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            assert settings.refresh_token is not None and settings.client_secret is not None
            response = self._call(
                "post",
                settings.oauth_url.rstrip("/") + "/accessToken",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": settings.refresh_token.get_secret_value(),
                    "client_id": settings.client_id,
                    "client_secret": settings.client_secret.get_secret_value(),
                },
                what="oauth_url",
            )
            body = _json(response)
            token = body.get("access_token") if response.status_code == 200 else None
            if not isinstance(token, str) or not token:
                if response.status_code >= 500 or response.status_code == 429:
                    raise LinkedInFailure(
                        "retry", "oauth_unavailable", "LinkedIn's token endpoint failed", 60.0
                    )
                raise LinkedInFailure(
                    "permanent",
                    str(body.get("error") or response.status_code),
                    "LinkedIn refused to renew the access token "
                    f"({body.get('error_description') or body.get('error') or 'no reason'}). "
                    "Authorize the app again (scope rw_conversions) and set "
                    "platforms.linkedin_ads.refresh_token.",
                )
            self._token = token
            return token

    def _call(self, method: str, url: str, *, what: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.timeout, **kwargs)
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
        ) as error:
            raise LinkedInFailure(
                "permanent",
                "invalid_url",
                f"platforms.linkedin_ads.{what} is not usable ({type(error).__name__})",
            ) from None
        except requests.RequestException as error:
            raise LinkedInFailure(
                "retry",
                "connection",
                f"no answer from LinkedIn ({type(error).__name__}); resending is safe because "
                "LinkedIn deduplicates on eventId",
                30.0,
            ) from None


DEFAULT_RATE_LIMIT_WAIT = 60.0
DEFAULT_TRANSIENT_WAIT = 30.0


def classify(response: requests.Response) -> LinkedInFailure:
    """Sort a whole-request error by what to do about it."""
    body = _json(response)
    status = response.status_code
    message = str(body.get("message") or response.reason or status)
    code = str(body.get("code") or body.get("serviceErrorCode") or status)
    if status == 429:
        return LinkedInFailure(
            "retry",
            code,
            f"LinkedIn rate limit: {message}",
            _retry_after(response) or DEFAULT_RATE_LIMIT_WAIT,
        )
    if status >= 500:
        return LinkedInFailure(
            "retry",
            code,
            f"LinkedIn: {message}",
            _retry_after(response) or DEFAULT_TRANSIENT_WAIT,
        )
    if status == 401:
        return LinkedInFailure(
            "auth",
            code,
            f"LinkedIn refused the access token ({message}). Create a token with the "
            "rw_conversions scope and set platforms.linkedin_ads.access_token (or a "
            "refresh_token).",
        )
    if status == 403:
        return LinkedInFailure(
            "permanent",
            code,
            f"LinkedIn: {message}. The token's member needs the rw_conversions scope and a "
            "role on the ad account that owns the conversion rule.",
        )
    if status == 426 or code in ("VERSION_MISSING", "NONEXISTENT_VERSION"):
        return LinkedInFailure(
            "permanent", code, f"LinkedIn: {message} (platforms.linkedin_ads.api_version)"
        )
    return LinkedInFailure("permanent", code, f"LinkedIn: {message}")


def _retry_after(response: requests.Response) -> float | None:
    raw = response.headers.get("Retry-After")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
