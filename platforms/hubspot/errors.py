"""How HubSpot's error answers map onto closedloop's error tree.

HubSpot bodies are ``{status, message, correlationId, category, ...}``; a 429 names the limit
it hit in ``policyName`` (``SECONDLY``, ``TEN_SECONDLY_ROLLING``, ``DAILY``) and sends no
Retry-After on search, so the wait is the policy's own window.
"""

from __future__ import annotations

import json
from typing import Any

#: Seconds to wait after a 429, by HubSpot's ``policyName``.
POLICY_WINDOWS: dict[str, float] = {
    "SECONDLY": 1.0,
    "TEN_SECONDLY_ROLLING": 10.0,
    "DAILY": 3600.0,
}
DEFAULT_RATE_LIMIT_WAIT = 10.0


def error_body(raw: Any) -> dict[str, Any]:
    """HubSpot's JSON error body, or ``{}`` when the answer was not JSON."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def rate_limit_wait(body: dict[str, Any], headers: Any = None) -> float:
    """How long to back off after a 429: Retry-After if sent, else the policy's window."""
    retry_after = headers.get("Retry-After") if headers is not None else None
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            pass
    return POLICY_WINDOWS.get(str(body.get("policyName", "")).upper(), DEFAULT_RATE_LIMIT_WAIT)


def describe(status: int, body: dict[str, Any]) -> str:
    """A one-line reason for logs and run summaries (never includes the request)."""
    category = body.get("category") or body.get("errorType") or "ERROR"
    message = str(body.get("message") or "no message")[:300]
    correlation = body.get("correlationId")
    suffix = f" (correlationId {correlation})" if correlation else ""
    return f"HubSpot {status} {category}: {message}{suffix}"
