"""``POST /webhooks/hubspot``: HubSpot's change notifications start a sync of those deals.

The v3 signature (HMAC-SHA256 over method + URI + body + timestamp, keyed with the app's client
secret) proves the call came from HubSpot; timestamps older than five minutes are refused so a
captured request cannot be replayed. The answer is immediate: the run executes on a thread, and
if one is already running the deal IDs are remembered for the next run (HubSpot retries slow or
failed answers, which would only duplicate work).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Flask, jsonify, request

from connector.app.context import runs, runtime
from connector.app.errors import ApiError
from connector.app.openapi import error_responses, register
from connector.errors import LeaseHeld
from connector.mapping import MappingProfile
from connector.storage.models import utcnow
from connector.sync import pull, store

log = logging.getLogger(__name__)

blueprint = Blueprint("webhooks", __name__)
SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
MAX_AGE_MS = 5 * 60 * 1000
DEAL_OBJECT_TYPE = "0-3"
#: A millisecond timestamp as HubSpot sends it (bounded, so int() stays cheap).
_MILLIS = re.compile(r"[0-9]{1,16}")


def signed_uri() -> str:
    """The URI HubSpot signed: the public URL when configured (behind a proxy), else ours."""
    public = runtime().settings.server.public_url
    if public:
        path = request.full_path.rstrip("?")
        return unquote(public.rstrip("/") + path)
    return unquote(request.url)


def verify_signature(secret: str, body: str, now_ms: int) -> None:
    """Raise 401 unless the v3 signature matches and the timestamp is fresh."""
    from platforms.hubspot.webhook_signature import v3_signature

    signature = request.headers.get(SIGNATURE_HEADER)
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then refuses.
    if not signature or not _MILLIS.fullmatch(stamp):
        raise ApiError(401, "unauthorized", f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    if abs(now_ms - int(stamp)) > MAX_AGE_MS:
        raise ApiError(401, "stale_request", "the request timestamp is more than 5 minutes old")
    expected = v3_signature(secret, request.method, signed_uri(), body, int(stamp))
    # Compared as bytes: a header with non-ASCII characters is a wrong signature, not a crash.
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise ApiError(401, "bad_signature", "the v3 signature does not match")


def deal_ids_to_sync(events: Any, profile: MappingProfile) -> list[str]:
    """Deals whose stage, amount or other planning input changed (or that were created)."""
    if not isinstance(events, list):
        raise ApiError(400, "bad_request", "expected a JSON array of events")
    watched = {
        f
        for f in (
            profile.deal.stage,
            profile.deal.amount,
            profile.deal.currency,
            profile.deal.close_date,
            profile.deal.pipeline,
            profile.deal.is_closed_won,
        )
        if f
    }
    ids: set[str] = set()
    for event in events:
        if not isinstance(event, dict) or event.get("objectId") is None:
            continue
        kind = str(event.get("subscriptionType", ""))
        is_deal = kind.startswith("deal.") or event.get("objectTypeId") == DEAL_OBJECT_TYPE
        if not is_deal:
            continue
        action = kind.rpartition(".")[2]
        if action in ("creation", "restore") or (
            action == "propertyChange" and event.get("propertyName") in watched
        ):
            ids.add(str(event["objectId"]))
    return sorted(ids)


@blueprint.post("/webhooks/hubspot")
def hubspot_webhook():
    """Verify, pick the deals that matter, start (or queue) a sync of just those."""
    rt = runtime()
    secret = rt.settings.platforms.hubspot.client_secret
    key = secret.get_secret_value() if secret is not None else ""
    if not key.strip():  # an empty key is no key: anyone could sign with ""
        raise ApiError(403, "not_configured", "platforms.hubspot.client_secret is not configured")
    body = request.get_data(as_text=True)
    verify_signature(key, body, int(time.time() * 1000))
    profile = rt.profile
    try:
        events = json.loads(body) if body else None
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_request", "the body is not JSON") from None
    ids = deal_ids_to_sync(events, profile)
    if not ids:
        return jsonify({"status": "ignored", "deal_ids": []}), 200
    try:
        run_id = runs().start_background("webhook", deal_ids=ids)
    except LeaseHeld:
        with rt.sessions.begin() as session:
            store.remember_ids(session, pull.pending_prefix(profile), ids, utcnow())
        log.info("webhook: run in progress, %d deal(s) queued for the next run", len(ids))
        return jsonify({"status": "queued", "deal_ids": ids}), 202
    return jsonify({"status": "running", "run_id": run_id, "deal_ids": ids}), 202


WEBHOOK_RESPONSE = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["running", "queued", "ignored"]},
        "run_id": {"type": "integer"},
        "deal_ids": {"type": "array", "items": {"type": "string"}},
    },
}


def init_app(app: Flask) -> None:
    """Register the blueprint and its OpenAPI path."""
    app.register_blueprint(blueprint)
    register(
        {
            "/webhooks/hubspot": {
                "post": {
                    "summary": "HubSpot webhook (v3 signature): sync the changed deals now",
                    "parameters": [
                        {
                            "name": SIGNATURE_HEADER,
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": TIMESTAMP_HEADER,
                            "in": "header",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"type": "object"}}
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "nothing to sync",
                            "content": {"application/json": {"schema": WEBHOOK_RESPONSE}},
                        },
                        "202": {
                            "description": "sync started or queued",
                            "content": {"application/json": {"schema": WEBHOOK_RESPONSE}},
                        },
                        **error_responses(400, 401, 403),
                    },
                }
            }
        },
        {"HubSpotWebhookResponse": WEBHOOK_RESPONSE},
    )
