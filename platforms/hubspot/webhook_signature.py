"""HubSpot webhook signatures (v3), computed by the SDK's own ``Signature`` helper.

The SDK's ``Signature.is_valid`` reads the wall clock for the 5-minute window; ``verify_v3``
takes ``now_ms`` instead, so the webhook endpoint and its tests control time.
"""

from __future__ import annotations

import hmac

from hubspot.utils.signature import Signature

SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
#: HubSpot: reject requests whose timestamp is older than five minutes.
MAX_AGE_MS = 5 * 60 * 1000


def v3_signature(client_secret: str, method: str, uri: str, body: str, timestamp_ms: int) -> str:
    """base64(HMAC-SHA256(client_secret, method + uri + body + timestamp))."""
    return Signature.get_signature(
        client_secret,
        body,
        "v3",
        http_uri=uri,
        http_method=method,
        timestamp=str(timestamp_ms),
    )


def v3_headers(
    client_secret: str, method: str, uri: str, body: str, timestamp_ms: int
) -> dict[str, str]:
    """The two headers HubSpot sends with a v3-signed webhook request."""
    return {
        SIGNATURE_HEADER: v3_signature(client_secret, method, uri, body, timestamp_ms),
        TIMESTAMP_HEADER: str(timestamp_ms),
    }


def verify_v3(
    client_secret: str,
    method: str,
    uri: str,
    body: str,
    signature: str | None,
    timestamp: str | None,
    *,
    now_ms: int,
) -> bool:
    """True when the signature matches and the timestamp is within five minutes of ``now_ms``."""
    if not client_secret or not signature or not timestamp:
        return False  # an empty secret would let anyone sign
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 16):
        return False  # "²".isdigit() is true, and int() refuses it
    if abs(now_ms - int(timestamp)) > MAX_AGE_MS:
        return False
    expected = v3_signature(client_secret, method, uri, body, int(timestamp))
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
