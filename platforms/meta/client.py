"""The facebook-business SDK set up for one Meta config: its own session, Graph URL and version.

Each destination or spend source builds its own ``FacebookAdsApi`` instead of calling
``FacebookAdsApi.init``: ``init`` installs a process-wide default API (so two configs in one
process would overwrite each other's token) and enables the SDK's crash reporter, which posts
stack traces to Facebook. The Graph URL is set on this session instance only (an instance
attribute shadows ``FacebookSession.GRAPH``), so the SDK itself stays unmodified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from facebook_business.session import FacebookSession

from connector.errors import ConfigError
from platforms.meta.settings import MetaSettings


def build_api(settings: MetaSettings, *, timeout: float = 30.0) -> FacebookAdsApi:
    """An API instance bound to ``settings.graph_url``, ``api_version`` and ``access_token``."""
    if settings.access_token is None:
        raise ConfigError("missing access token", path="platforms.meta.access_token")
    session = FacebookSession(
        access_token=settings.access_token.get_secret_value(), timeout=timeout
    )
    session.GRAPH = settings.graph_url.rstrip("/")
    return FacebookAdsApi(session, api_version=settings.api_version)


def ad_account_node(ad_account_id: str) -> str:
    """Graph node ID of an ad account: ``act_<id>`` whether or not the config has the prefix."""
    return f"act_{ad_account_id.strip().removeprefix('act_')}"


#: Graph codes that mean "slow down or try later": unknown (1), service (2), app/user/page
#: rate limits (4, 17, 32, 613), ad account limits (80000-80014), 341 (temporary limit).
TRANSIENT_CODES = frozenset({1, 2, 4, 17, 32, 341, 613, *range(80000, 80015)})
RATE_LIMIT_CODES = frozenset({4, 17, 32, 613, *range(80000, 80015)})
#: Token or permission problems: a human has to act.
AUTH_CODES = frozenset({102, 104, 190, 10, *range(200, 300)})
OBJECT_MISSING_SUBCODE = 33
DEFAULT_RATE_LIMIT_WAIT = 60.0
DEFAULT_TRANSIENT_WAIT = 30.0


@dataclass(eq=False)
class GraphFailure(Exception):
    """One failed request, classified: ``data`` (isolate), ``retry`` or ``permanent``."""

    kind: str
    code: str
    message: str
    retry_after: float | None = None


def classify_error(error: FacebookRequestError) -> GraphFailure:
    """Sort a Graph error by what to do about it."""
    code = error.api_error_code()
    subcode = error.api_error_subcode()
    body = error.body() if isinstance(error.body(), dict) else {}
    detail = body.get("error", {}) if isinstance(body.get("error"), dict) else {}
    title = detail.get("error_user_title")
    message = detail.get("error_user_msg") or error.api_error_message() or "no message"
    text = f"{title}: {message}" if title else message
    label = f"{code}/{subcode}" if subcode else str(code)
    status = error.http_status() or 0
    if error.api_transient_error() or code in TRANSIENT_CODES or (code is None and status >= 500):
        wait = DEFAULT_RATE_LIMIT_WAIT if code in RATE_LIMIT_CODES else DEFAULT_TRANSIENT_WAIT
        return GraphFailure("retry", label, f"Meta: {text}", _regain_seconds(error) or wait)
    if code in AUTH_CODES:
        return GraphFailure(
            "permanent",
            label,
            f"Meta refused the access token ({text}). Create a system-user token with the "
            "ads_management permission for this pixel and set platforms.meta.access_token.",
        )
    if code == 100 and subcode == OBJECT_MISSING_SUBCODE:
        return GraphFailure(
            "permanent",
            label,
            f"Meta: {text} Check platforms.meta.pixel_id / ad_account_id and that the token "
            "may use it.",
        )
    if status >= 500:
        return GraphFailure("retry", label, f"Meta: {text}", DEFAULT_TRANSIENT_WAIT)
    return GraphFailure("data", label, text)


def _regain_seconds(error: FacebookRequestError) -> float | None:
    """Graph's ``estimated_time_to_regain_access`` (minutes) from the usage headers."""
    headers = error.http_headers() or {}
    for name in ("x-business-use-case-usage", "x-ad-account-usage"):
        raw = headers.get(name) if hasattr(headers, "get") else None
        if not raw:
            continue
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        entries = [e for v in parsed.values() for e in (v if isinstance(v, list) else [v])]
        minutes = [
            float(e["estimated_time_to_regain_access"])
            for e in entries
            if isinstance(e, dict) and e.get("estimated_time_to_regain_access")
        ]
        if minutes:
            return max(minutes) * 60
    return None
