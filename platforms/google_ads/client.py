"""SDK clients for Google Ads: credentials, scopes and endpoints from ``platforms.google_ads``.

Only the endpoint changes between Google and the sandbox; TLS trust for a local or proxy
endpoint comes from ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH`` as gRPC defines it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials

from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.google_ads.settings import GoogleAdsSettings
from platforms.google_auth import build_credentials

if TYPE_CHECKING:
    from google.ads.datamanager_v1 import IngestionServiceClient

PLATFORM = "google_ads"
DATAMANAGER_SCOPE = "https://www.googleapis.com/auth/datamanager"
CREDENTIALS_KEY = "platforms.google_ads.credentials"
MISSING_SCOPE = (
    "the token lacks the datamanager scope: re-authorise with "
    f"{DATAMANAGER_SCOPE} (a new refresh token in {CREDENTIALS_KEY})"
)


def datamanager_credentials(settings: GoogleAdsSettings) -> Credentials:
    """google-auth credentials asking for the Data Manager scope."""
    return build_credentials(settings.credentials, [DATAMANAGER_SCOPE], CREDENTIALS_KEY)


def ingestion_client(
    settings: GoogleAdsSettings, credentials: Credentials
) -> IngestionServiceClient:
    """The Data Manager ``IngestionService`` client over gRPC, at the configured endpoint."""
    from google.ads.datamanager_v1 import IngestionServiceClient
    from google.api_core.client_options import ClientOptions

    return IngestionServiceClient(
        credentials=credentials,
        transport="grpc",
        client_options=ClientOptions(api_endpoint=settings.data_manager_endpoint),
    )


def ensure_token(credentials: Credentials, timeout: float) -> None:
    """Refresh the access token now, so that an auth failure is named instead of hidden.

    Inside a gRPC call a failed refresh surfaces as UNAVAILABLE ("getting metadata from plugin
    failed"), which would be retried forever; refreshing first tells a revoked grant or a
    missing scope (permanent) from a network error (retryable).
    """
    if credentials.valid:
        return
    from google.auth.transport.requests import Request

    try:
        credentials.refresh(_TimedRequest(Request(), timeout))
    except auth_exceptions.RefreshError as exc:
        detail = str(exc.args[0]) if exc.args else str(exc)
        if getattr(exc, "retryable", False):
            raise RetryablePlatformError(
                f"token refresh failed, will retry: {detail}", platform=PLATFORM, code="AUTH"
            ) from exc
        if "invalid_scope" in detail:
            raise PermanentPlatformError(
                MISSING_SCOPE, platform=PLATFORM, code="ACCESS_TOKEN_SCOPE_INSUFFICIENT"
            ) from exc
        raise PermanentPlatformError(
            f"Google refused the OAuth credentials ({detail}): re-authorise and update "
            f"{CREDENTIALS_KEY} (client ID/secret, refresh token, token_uri)",
            platform=PLATFORM,
            code="UNAUTHENTICATED",
        ) from exc
    except auth_exceptions.TransportError as exc:
        raise RetryablePlatformError(
            f"cannot reach the OAuth token endpoint: {exc}", platform=PLATFORM, code="AUTH"
        ) from exc


class _TimedRequest:
    """google-auth's requests transport with our timeout instead of its 120 s default."""

    def __init__(self, request: object, timeout: float) -> None:
        self._request = request
        self._timeout = timeout

    def __call__(self, *args: object, **kwargs: object) -> object:
        kwargs.setdefault("timeout", self._timeout)
        return self._request(*args, **kwargs)  # type: ignore[operator]
