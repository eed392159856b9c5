"""The msads REST SDK set up for one account: its OAuth token, headers and host.

The SDK's own ``bingads.ServiceClient`` is not used: constructing one calls
``openapi_client.model_utils.enable_alias_support``, which replaces ``__getattr__`` and
``__setattr__`` on pydantic's ``BaseModel`` for the whole process (every settings model of
closedloop included). The generated ``CampaignManagementServiceApi`` it wraps is used
directly, with the same default headers ``ServiceClient`` sets (``Authorization``,
``CustomerId``, ``CustomerAccountId``, ``DeveloperToken``, the SDK's ``User-Agent``; the SDK
adds ``Api-Revision`` itself). Its modules are imported inside the functions: importing the
generated models takes seconds, and nothing else in closedloop should pay for it.

The access token comes from the Microsoft identity platform's token endpoint by the refresh
token grant. The SDK's ``OAuthWebAuthCodeGrant`` hard-wires the endpoint's host (so it could
never reach a sandbox), so the standard form POST is made here with ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import requests

from connector.errors import ConfigError, PermanentPlatformError, RetryablePlatformError
from platforms.microsoft_ads.settings import MicrosoftAdsSettings

NAME = "microsoft_ads"
#: Refresh this long before the token's stated expiry, so it never expires in flight.
EXPIRY_MARGIN_SECONDS = 120
DEFAULT_RETRY_SECONDS = 60.0
#: Error codes meaning "try again later": internal error (0), call rate exceeded (117).
TRANSIENT_CODES = frozenset({0, 117})
RATE_LIMIT_CODES = frozenset({117})
#: Credentials a human must fix: invalid credentials (105), not authorized (106), token
#: expired (109) is refreshed once before it counts.
AUTH_CODES = frozenset({105, 106})
TOKEN_EXPIRED_CODE = 109


def _secret(settings: MicrosoftAdsSettings, name: str) -> str:
    value = getattr(settings, name)
    if value is None:
        raise ConfigError("missing", path=f"platforms.{NAME}.{name}")
    return str(value.get_secret_value())


class TokenSource:
    """Access tokens from one refresh token, refreshed shortly before they expire.

    Microsoft may answer a refresh with a new refresh token; it is kept for the next refresh
    (in memory only: the configured one stays valid until it expires or is revoked).
    """

    def __init__(self, settings: MicrosoftAdsSettings, *, timeout: float = 30.0) -> None:
        self._settings = settings
        self._timeout = timeout
        self._refresh_token = _secret(settings, "refresh_token")
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the access token (the API said it expired)."""
        with self._lock:
            self._token = None

    def token(self) -> str:
        """A live access token."""
        with self._lock:
            if self._token is None or time.time() >= self._expires_at:
                self._refresh()
            assert self._token is not None
            return self._token

    def _refresh(self) -> None:
        form = {
            "client_id": str(self._settings.client_id),
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token,
            "scope": self._settings.scope,
        }
        if self._settings.client_secret is not None:
            form["client_secret"] = _secret(self._settings, "client_secret")
        try:
            answer = requests.post(self._settings.token_url, data=form, timeout=self._timeout)
        except requests.RequestException as error:
            raise RetryablePlatformError(
                f"no answer from the Microsoft token endpoint ({type(error).__name__})",
                platform=NAME,
                code="token_endpoint_unreachable",
                retry_after=DEFAULT_RETRY_SECONDS,
            ) from None
        body = _json(answer.text)
        if answer.status_code >= 500 or answer.status_code == 429:
            raise RetryablePlatformError(
                f"Microsoft token endpoint answered HTTP {answer.status_code}",
                platform=NAME,
                code="token_endpoint_error",
                retry_after=DEFAULT_RETRY_SECONDS,
            )
        if answer.status_code != 200 or "access_token" not in body:
            error = str(body.get("error") or f"HTTP {answer.status_code}")
            raise PermanentPlatformError(
                f"Microsoft refused the refresh token ({error}: "
                f"{body.get('error_description', 'no description')}). Sign in again to get a "
                f"new refresh token for platforms.{NAME}.refresh_token (and check client_id / "
                "client_secret).",
                platform=NAME,
                code=error,
            )
        self._token = str(body["access_token"])
        lifetime = float(body.get("expires_in") or 3600)
        self._expires_at = time.time() + max(lifetime - EXPIRY_MARGIN_SECONDS, 1.0)
        if body.get("refresh_token"):
            self._refresh_token = str(body["refresh_token"])


def build_api(settings: MicrosoftAdsSettings, access_token: str) -> Any:
    """A ``CampaignManagementServiceApi`` on ``settings.api_url`` with the account's headers."""
    from openapi_client.api.campaign_management_service_api import (
        CampaignManagementServiceApi,
    )

    return CampaignManagementServiceApi(_api_client(settings, settings.api_url, access_token))


def build_reporting_api(settings: MicrosoftAdsSettings, access_token: str) -> Any:
    """A ``ReportingServiceApi`` on ``settings.reporting_url`` with the account's headers.

    The SDK's ``ReportingServiceManager`` would build a ``ServiceClient`` (and with it the
    process-wide pydantic patch above), so its submit/poll/download steps are made in
    ``platforms.microsoft_ads.spend`` on this generated client instead.
    """
    from openapi_client.api.reporting_service_api import ReportingServiceApi

    return ReportingServiceApi(_api_client(settings, settings.reporting_url, access_token))


def _api_client(settings: MicrosoftAdsSettings, host: str, access_token: str) -> Any:
    from bingads.manifest import USER_AGENT
    from openapi_client.api_client import ApiClient
    from openapi_client.configuration import Configuration

    client = ApiClient(configuration=Configuration(host=host.rstrip("/")))
    headers = {
        "CustomerAccountId": str(settings.account_id),
        "CustomerId": str(settings.customer_id),
        "DeveloperToken": _secret(settings, "developer_token"),
        "User-Agent": USER_AGENT,
    }
    for name, value in headers.items():
        client.set_default_header(name, value)
    set_token(client, access_token)
    return client


def set_token(api_client: Any, access_token: str) -> None:
    """Put a (new) bearer token on the client's default headers."""
    api_client.set_default_header("Authorization", f"Bearer {access_token}")


@dataclass(frozen=True)
class Fault:
    """A failed request, read from the API's fault body."""

    status: int
    #: (Code, ErrorCode, Message) of each operation-level error.
    errors: tuple[tuple[int | None, str, str], ...]
    #: (Index, Code, ErrorCode, Message) of each item-level error.
    batch_errors: tuple[tuple[int, int | None, str, str], ...]
    retry_after: float | None
    tracking_id: str | None

    @property
    def codes(self) -> set[int]:
        """Every operation-level error code."""
        return {code for code, _, _ in self.errors if code is not None}

    def describe(self) -> str:
        """One line with each error's name and message."""
        parts = [f"{name or code}: {message}" for code, name, message in self.errors]
        parts += [
            f"item {i}: {name or code}: {message}" for i, code, name, message in self.batch_errors
        ]
        text = "; ".join(parts) or f"HTTP {self.status} without an error body"
        return f"Microsoft Advertising: {text}"


T = TypeVar("T")


class TokenExpired(Exception):
    """Microsoft answered error 109: the access token expired before its stated lifetime."""

    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.describe())
        self.fault = fault


def once_more_on_expiry(tokens: Any, api_client: Any, call: Callable[[], T]) -> T:
    """``call()``; if it raises :class:`TokenExpired`, renew the token and call once more.

    A second expiry in a row is retryable later (the sign-in service is having trouble), never
    a loop. The conversions adapter and the spend pull share this.
    """
    try:
        return call()
    except TokenExpired:
        tokens.invalidate()
        set_token(api_client, tokens.token())
        try:
            return call()
        except TokenExpired as expired:
            raise RetryablePlatformError(
                expired.fault.describe(),
                platform=NAME,
                code="AuthenticationTokenExpired",
                retry_after=DEFAULT_RETRY_SECONDS,
            ) from None


def read_fault(status: int, body: str | None, headers: Any) -> Fault:
    """The fault in an error answer (``AdApiFaultDetail`` or ``ApiFaultDetail``)."""
    data = _json(body)
    errors = [
        (_int(e.get("Code")), str(e.get("ErrorCode") or ""), str(e.get("Message") or ""))
        for key in ("Errors", "OperationErrors")
        for e in data.get(key) or []
        if isinstance(e, dict)
    ]
    batch = [
        (
            int(e.get("Index") or 0),
            _int(e.get("Code")),
            str(e.get("ErrorCode") or ""),
            str(e.get("Message") or ""),
        )
        for e in data.get("BatchErrors") or []
        if isinstance(e, dict)
    ]
    retry = None
    raw = headers.get("Retry-After") if hasattr(headers, "get") else None
    if raw:
        try:
            retry = float(raw)
        except ValueError:
            retry = None
    tracking = data.get("TrackingId")
    return Fault(status, tuple(errors), tuple(batch), retry, str(tracking) if tracking else None)


def request_error(fault: Fault) -> PermanentPlatformError | RetryablePlatformError:
    """The whole-request error a fault without item errors means."""
    codes = fault.codes
    label = next((name for _, name, _ in fault.errors if name), f"HTTP {fault.status}")
    if fault.status == 429 or codes & TRANSIENT_CODES or fault.status >= 500:
        wait = fault.retry_after or (DEFAULT_RETRY_SECONDS if codes & RATE_LIMIT_CODES else 30.0)
        return RetryablePlatformError(fault.describe(), platform=NAME, code=label, retry_after=wait)
    if fault.status in (401, 403) or codes & AUTH_CODES:
        return PermanentPlatformError(
            f"{fault.describe()}. Check platforms.{NAME}.developer_token, customer_id, "
            "account_id, and that the signed-in user may manage that account.",
            platform=NAME,
            code=label,
        )
    return PermanentPlatformError(fault.describe(), platform=NAME, code=label)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _json(text: str | None) -> dict[str, Any]:
    try:
        parsed = json.loads(text or "")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
