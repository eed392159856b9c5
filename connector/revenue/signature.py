"""``X-Closedloop-Signature: sha256=<hex>``: HMAC-SHA256 of the raw body with the source's secret.

The format GitHub and Shopify-style senders use, so most systems can produce it with a line of
code. There is no timestamp in it: a replayed body is harmless for a repeat (idempotent), but an
old body replayed after a change would restore the old state, so the transport must be HTTPS.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Closedloop-Signature"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value for ``body`` (what a sender computes)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str) -> bool:
    """Whether ``header`` is the signature of ``body`` under ``secret`` (constant time)."""
    return hmac.compare_digest(sign(secret, body).encode(), header.strip().lower().encode())
