"""Connections to GA4: a keep-alive HTTP session for the Measurement Protocol, a Data API client.

Google ships no SDK for the Measurement Protocol, so it is plain HTTPS through ``requests``;
the Data API goes through the official ``google-analytics-data`` client over its REST
transport, with only the endpoint changed from config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests
from requests.adapters import HTTPAdapter

from connector import __version__
from connector.errors import ConfigError
from platforms.ga4.settings import GA4Settings
from platforms.google_auth import build_credentials

if TYPE_CHECKING:
    from google.analytics.data_v1beta import BetaAnalyticsDataClient

USER_AGENT = f"closedloop/{__version__} python-requests/{requests.__version__}"
DATA_API_SCOPES = ["https://www.googleapis.com/auth/analytics.readonly"]


def measurement_session(concurrency: int) -> requests.Session:
    """A session whose pool keeps one live connection per parallel request.

    ``pool_block`` keeps the connection count at ``concurrency`` even if more threads call in,
    and ``max_retries=0`` leaves retries to the outbox: a POST whose answer was lost must come
    back as a ``Retry`` outcome, not be resent blindly inside urllib3.
    """
    session = requests.Session()
    adapter = HTTPAdapter(
        pool_connections=2, pool_maxsize=concurrency, max_retries=0, pool_block=True
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, "Content-Type": "application/json"})
    return session


def data_api_client(settings: GA4Settings) -> BetaAnalyticsDataClient:
    """The official Data API client on the REST transport, at ``data_api_endpoint``.

    The REST transport reads a scheme in ``api_endpoint`` (``http://127.0.0.1:8080`` for the
    sandbox); a bare host means HTTPS, as with Google's default.
    """
    from google.analytics.data_v1beta import BetaAnalyticsDataClient

    if not settings.property_id:
        raise ConfigError("property_id is required for the Data API", path="platforms.ga4")
    credentials = build_credentials(
        settings.credentials, DATA_API_SCOPES, "platforms.ga4.credentials"
    )
    return BetaAnalyticsDataClient(
        credentials=credentials,
        transport="rest",
        client_options={"api_endpoint": settings.data_api_endpoint},
    )
