"""The Google Ads API client (``google-ads`` SDK) built from our settings.

Only the endpoint differs between production and the sandbox; TLS trust for a local endpoint
comes from ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``, as for any gRPC client.
"""

from __future__ import annotations

from google.ads.googleads.client import GoogleAdsClient

from connector.errors import ConfigError
from platforms.google_ads.settings import GoogleAdsSettings
from platforms.google_auth import build_credentials

#: The API version this SDK (google-ads 34) uses by default; pinned so that an SDK upgrade
#: changes the wire version only on purpose. The sandbox serves the same version.
API_VERSION = "v26"

ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"


def build_ads_client(settings: GoogleAdsSettings) -> GoogleAdsClient:
    """A proto-plus ``GoogleAdsClient`` talking to ``settings.endpoint``."""
    if settings.developer_token is None:
        raise ConfigError(
            "a developer token is required for the Google Ads API",
            path="platforms.google_ads.developer_token",
        )
    credentials = build_credentials(
        settings.credentials, [ADWORDS_SCOPE], "platforms.google_ads.credentials"
    )
    return GoogleAdsClient(
        credentials=credentials,
        developer_token=settings.developer_token.get_secret_value(),
        endpoint=settings.endpoint,
        login_customer_id=settings.login_customer_id,
        version=API_VERSION,
        use_proto_plus=True,
    )


def conversion_action_name(customer_id: str, action_id: str) -> str:
    """``customers/{cid}/conversionActions/{id}``, the resource name uploads refer to."""
    return f"customers/{customer_id}/conversionActions/{action_id}"
