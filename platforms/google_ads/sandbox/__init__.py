"""The Google Ads sandbox: Data Manager API, Google Ads API (when built) and an OAuth endpoint.

The SDKs reach it unmodified: ``data_manager_endpoint`` and ``endpoint`` point at local gRPC
servers over TLS, and the credentials' ``token_uri`` at a local Google-style token endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

from werkzeug.wrappers import Request, Response

from platforms.google_ads.sandbox.datamanager import DataManagerServer
from platforms.sandbox_kit.consent import AUTH_PATH, ConsentServer
from platforms.sandbox_kit.faults import FaultPlan
from platforms.sandbox_kit.http import HttpEmulator
from platforms.sandbox_kit.oauth import TOKEN_PATH, TokenIssuer
from platforms.sandbox_kit.tls import shared_certificate
from platforms.sandbox_kit.tokeninfo import TOKENINFO_PATH, tokeninfo

DATAMANAGER_SCOPE = "https://www.googleapis.com/auth/datamanager"
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"
ANALYTICS_READONLY_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"


class TokenEndpoint(HttpEmulator):
    """Google's OAuth token endpoint (and consent screen), served over plain HTTP on localhost."""

    name = "google_oauth"

    def __init__(
        self, issuer: TokenIssuer, client_id: str = "", consent: ConsentServer | None = None
    ) -> None:
        super().__init__(FaultPlan.none())
        self.issuer = issuer
        self.client_id = client_id
        self.consent = consent

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """``POST /token``, ``GET /tokeninfo`` and ``GET /o/oauth2/auth``; else 404."""
        request = Request(environ)
        if request.path == TOKENINFO_PATH:
            return tokeninfo(self.issuer, request, self.client_id)(environ, start_response)
        if self.consent is not None and request.path == AUTH_PATH:
            return self.consent.authorize(request)(environ, start_response)
        if request.path != TOKEN_PATH:
            return Response("not found", status=404)(environ, start_response)
        if self.consent is not None and request.form.get("grant_type") == "authorization_code":
            return self.consent.exchange(request)(environ, start_response)
        return self.issuer.handle(request)(environ, start_response)

    @property
    def auth_uri(self) -> str:
        """What an OAuth client's ``auth_uri`` must be (Google's consent screen, locally)."""
        return f"{self.url}{AUTH_PATH}"

    @property
    def token_uri(self) -> str:
        """What the credentials' ``token_uri`` must be."""
        return f"{self.url}{TOKEN_PATH}"


class GoogleAdsSandbox:
    """Data Manager emulator + token endpoint (+ Google Ads API emulator when available).

    Faults apply to the API servers, not to the token endpoint. ``clock`` is the sandboxes'
    now, so that click-age rules are exact in tests. ``allowlisted`` (default: ``api ==
    "google_ads"``) decides whether the Google Ads API still takes click conversions from the
    customer; adjustments and spend work either way. ``processing_seconds``: how long Data
    Manager statuses stay ``PROCESSING`` after an ingest; ``status_check_minutes`` (in
    ``platform_config``) when closedloop first asks: by default both 0, the sandbox processing
    at once and asking to be asked at once, so one delivery pass settles; a test of the
    asynchronous path sets them as Google has them (30 minutes, processing time unknown).
    """

    #: Google must not receive the conversion of a person who denied ad_user_data (the
    #: adapter withholds it; Data Manager would fail its processing with DENIED_CONSENT).
    denied_consent: Literal["withheld", "flagged"] = "withheld"
    #: Data Manager fails whole requests, never one event, for transient reasons.
    transient_scope: Literal["item", "request"] = "request"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        api: str = "data_manager",
        customer_id: str = "1234567890",
        conversion_action_id: str = "700000001",
        click_window_days: int = 90,
        developer_token: str | None = "sandbox-developer-token",
        granted_scopes: set[str] | None = None,
        clock: Callable[[], datetime] | None = None,
        requests_per_minute: int = 300,
        allowlisted: bool | None = None,
        unknown_clicks: bool = True,
        processing_seconds: float = 0.0,
        status_check_minutes: float = 0.0,
    ) -> None:
        shared_certificate()  # before any gRPC channel exists in this process
        faults = faults or FaultPlan.none()
        self.faults = faults
        self.click_window_days = click_window_days
        self.api = api
        self.customer_id = customer_id
        self.conversion_action_id = conversion_action_id
        self.developer_token = developer_token
        self.status_check_minutes = status_check_minutes
        self.client_id = "sandbox-client.apps.googleusercontent.com"
        self.client_secret = "sandbox-client-secret"
        self.refresh_token = "1//sandbox-refresh-token"
        self.issuer = TokenIssuer()
        self.issuer.add_refresh_token(
            self.refresh_token,
            self.client_id,
            self.client_secret,
            granted_scopes if granted_scopes is not None else {DATAMANAGER_SCOPE, ADWORDS_SCOPE},
        )
        #: Google's consent screen for ``closedloop auth google`` (scripted: ``decision``).
        self.consent = ConsentServer(
            self.issuer,
            frozenset({DATAMANAGER_SCOPE, ADWORDS_SCOPE, ANALYTICS_READONLY_SCOPE}),
        )
        self.consent.add_client(self.client_id, self.client_secret)
        self.token_endpoint = TokenEndpoint(self.issuer, self.client_id, self.consent)
        self.datamanager = DataManagerServer(
            faults,
            issuer=self.issuer,
            clock=clock,
            requests_per_minute=requests_per_minute,
            unknown_clicks=unknown_clicks,
            processing_seconds=processing_seconds,
        )
        self.datamanager.add_conversion_action(
            customer_id, conversion_action_id, click_window_days=click_window_days
        )
        self.ads_api = _ads_api_server(
            faults,
            issuer=self.issuer,
            clock=clock,
            developer_token=developer_token or "sandbox-developer-token",
            customer_id=customer_id,
            allowlisted=api == "google_ads" if allowlisted is None else allowlisted,
        )
        if self.ads_api is not None:
            self.ads_api.add_conversion_action(customer_id, conversion_action_id, click_window_days)
            # One Google Ads account behind both APIs: adjustments through the Google Ads API
            # must find conversions uploaded through Data Manager.
            self.datamanager.on_accept = getattr(self.ads_api, "record_conversion", None)
            self.datamanager.action_refusal = self._data_manager_refusal

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> GoogleAdsSandbox:
        """Start the token endpoint and the API servers."""
        self.token_endpoint.start()
        self.datamanager.start()
        if self.ads_api is not None:
            self.ads_api.start()
        return self

    def stop(self) -> None:
        """Stop everything."""
        if self.ads_api is not None:
            self.ads_api.stop()
        self.datamanager.stop()
        self.token_endpoint.stop()

    def __enter__(self) -> GoogleAdsSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- config and seed -----------------------------------------------------------------------
    def platform_config(self) -> dict[str, Any]:
        """The ``platforms.google_ads`` section pointing at this sandbox."""
        config: dict[str, Any] = {
            "enabled": True,
            "api": self.api,
            "customer_id": self.customer_id,
            "conversion_action_id": self.conversion_action_id,
            "credentials": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "refresh_token": self.refresh_token,
                "token_uri": self.token_endpoint.token_uri,
            },
            "data_manager_endpoint": self.datamanager.endpoint,
            "status_check_minutes": self.status_check_minutes,
        }
        if self.developer_token:
            config["developer_token"] = self.developer_token
        if self.ads_api is not None:
            config["endpoint"] = self.ads_api.endpoint
        return config

    def client_secrets(self) -> dict[str, Any]:
        """The Desktop OAuth client JSON Google Cloud console downloads, pointing here."""
        return {
            "installed": {
                "client_id": self.client_id,
                "project_id": "closedloop-sandbox",
                "auth_uri": self.token_endpoint.auth_uri,
                "token_uri": self.token_endpoint.token_uri,
                "client_secret": self.client_secret,
                "redirect_uris": ["http://localhost"],
            }
        }

    def add_click(
        self, click_id: str, click_time: datetime, *, kind: str = "gclid", source: Any = None
    ) -> None:
        """A click Google knows (``kind``: gclid, gbraid or wbraid), for click-age rules.

        ``source`` (a ``click_view.ClickSource``) is the campaign it came from, for click_view.
        """
        self.datamanager.add_click(click_id, click_time)
        if self.ads_api is not None:
            self.ads_api.add_click(
                click_id, click_time, kind=kind, customer_id=self.customer_id, source=source
            )

    def add_conversion_action(
        self, action_id: str, *, click_window_days: int = 90, created_at: datetime | None = None
    ) -> None:
        """Another conversion action of the sandbox customer."""
        self.datamanager.add_conversion_action(
            self.customer_id, action_id, click_window_days=click_window_days, created_at=created_at
        )
        if self.ads_api is not None:
            self.ads_api.add_conversion_action(
                self.customer_id, action_id, click_window_days, created_at=created_at
            )

    def _data_manager_refusal(self, account_id: str, action_id: str) -> tuple[str, str] | None:
        from platforms.google_ads.sandbox.conversion_actions import data_manager_refusal

        return data_manager_refusal(self.ads_api.catalog, account_id, action_id)

    def set_conversion_action(self, action_id: str | None = None, **changes: str) -> None:
        """Change an action's ``name``, ``type``, ``status`` or ``counting_type`` (GAQL view)."""
        if self.ads_api is not None:
            self.ads_api.catalog.set_action(
                self.customer_id, action_id or self.conversion_action_id, **changes
            )

    def accept_customer_data_terms(self, accepted: bool) -> None:
        """Whether the customer accepted the customer-data terms (enhanced conversions)."""
        if self.ads_api is not None:
            self.ads_api.catalog.accept_terms(self.customer_id, accepted)

    def know_click(self, kind: str, value: str, time: datetime) -> None:
        """A click Google made (the protocol's name for :meth:`add_click`)."""
        self.add_click(value, time, kind=kind)

    def fail_item(self, key: str, *, permanent: bool) -> None:
        """Fail the Data Manager event with transaction_id ``key`` (see its ``fail_item``)."""
        self.datamanager.fail_item(key, permanent=permanent)

    def fail_processing(
        self, key: str, reason: str = "PROCESSING_ERROR_REASON_INVALID_GCLID"
    ) -> None:
        """Accept the event with transaction_id ``key`` but fail it in processing (``reason``)."""
        self.datamanager.fail_processing(key, reason)

    @property
    def max_conversion_age(self) -> timedelta | None:
        """The conversion action's click-through window (the click, and the event, in it)."""
        return timedelta(days=self.click_window_days)

    @property
    def retry_hint_seconds(self) -> float:
        """The ``RetryInfo`` delay of the transient ``fail_item`` error."""
        return float(self.faults.retry_after_seconds)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """Events Data Manager failed a request on, by ``key`` (transaction_id)."""
        return list(self.datamanager.rejected)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """What Google kept, after its own dedup: Data Manager, then Google Ads API uploads.

        A Data Manager conversion that the Google Ads API emulator also holds (shared so that
        adjustments find it) is listed once, with the adjusted state (value, restated,
        retracted) from the Google Ads API side. Every entry has ``transaction_id``.
        """
        kept = [dict(item, api="data_manager") for item in self.datamanager.accepted]
        if self.ads_api is None:
            return kept
        by_key = {(k["conversion_action_id"], k["transaction_id"]): k for k in kept}
        for item in self.ads_api.accepted:
            order_id = item.get("transaction_id") or item.get("order_id")
            shared = by_key.get((item.get("conversion_action_id"), order_id))
            if shared is not None and order_id is not None:
                shared.update({k: v for k, v in item.items() if k not in shared or k == "value"})
            else:
                kept.append(dict(item, api="google_ads", transaction_id=order_id, key=order_id))
        return kept

    @property
    def requests(self) -> int:
        """API requests received (token refreshes not counted)."""
        total = self.datamanager.requests
        if self.ads_api is not None:
            total += self.ads_api.requests
        return total


def _ads_api_server(faults: FaultPlan | None, **options: Any) -> Any:
    """The Google Ads API emulator sharing our token issuer, if ``sandbox.ads`` is present."""
    try:
        from platforms.google_ads.sandbox.ads import GoogleAdsApiServer
    except ImportError:
        return None
    return GoogleAdsApiServer(faults, **options)
