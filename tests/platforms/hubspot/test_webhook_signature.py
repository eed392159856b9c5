"""HubSpot v3 webhook signatures from the sandbox match an independent HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac

from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.webhook_signature import verify_v3

BODY = '[{"objectId":1246965,"subscriptionType":"deal.propertyChange","propertyName":"dealstage"}]'
URI = "https://closedloop.example.com/webhooks/hubspot"


def test_sign_webhook_matches_an_independent_hmac() -> None:
    """X-HubSpot-Signature-v3 is base64(HMAC-SHA256(secret, method+uri+body+timestamp))."""
    sandbox = HubSpotSandbox(client_secret="shh-secret")
    headers = sandbox.sign_webhook("POST", URI, BODY, 1_767_225_600_000)
    digest = hmac.new(
        b"shh-secret", f"POST{URI}{BODY}1767225600000".encode(), hashlib.sha256
    ).digest()
    assert headers["X-HubSpot-Signature-v3"] == base64.b64encode(digest).decode()
    assert headers["X-HubSpot-Request-Timestamp"] == "1767225600000"


def test_verify_accepts_fresh_and_rejects_stale_or_tampered() -> None:
    """Verification holds for 5 minutes and only for the exact body and secret."""
    ts = 1_767_225_600_000
    headers = HubSpotSandbox(client_secret="s").sign_webhook("POST", URI, BODY, ts)
    sig = headers["X-HubSpot-Signature-v3"]
    assert verify_v3("s", "POST", URI, BODY, sig, str(ts), now_ms=ts + 299_000)
    assert not verify_v3("s", "POST", URI, BODY, sig, str(ts), now_ms=ts + 301_000)
    assert not verify_v3("s", "POST", URI, BODY + " ", sig, str(ts), now_ms=ts)
    assert not verify_v3("other", "POST", URI, BODY, sig, str(ts), now_ms=ts)
    assert not verify_v3("s", "POST", URI, BODY, None, str(ts), now_ms=ts)


def test_verify_refuses_an_empty_secret_and_odd_headers() -> None:
    """Signed with "" is never valid; "²" or a non-ASCII signature is False, not an error."""
    ts = 1_767_225_600_000
    sig = HubSpotSandbox(client_secret="").sign_webhook("POST", URI, BODY, ts)
    assert not verify_v3("", "POST", URI, BODY, sig["X-HubSpot-Signature-v3"], str(ts), now_ms=ts)
    assert not verify_v3("s", "POST", URI, BODY, "x", "²", now_ms=ts)
    assert not verify_v3("s", "POST", URI, BODY, "sïgnature", str(ts), now_ms=ts)
