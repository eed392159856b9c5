"""``POST /webhooks/<crm>`` (``/webhooks/hubspot``): a CRM's change notifications start a sync.

The CRM's declared webhook (``platforms.crm.CrmWebhook``, named in the registry) checks the
signature, keyed with the secret in its settings, and picks the deals whose planning inputs
changed. The answer is immediate: the run executes on a thread, and
if one is already running the deal IDs are remembered for the next run (HubSpot retries slow or
failed answers, which would only duplicate work).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import unquote

from flask import Flask, jsonify, request

import platforms
from connector.app.context import runs, runtime
from connector.app.errors import ApiError
from connector.app.openapi import error_responses, register
from connector.errors import LeaseHeld
from connector.mapping import MappingProfile
from connector.storage.models import utcnow
from connector.sync import pull, store

log = logging.getLogger(__name__)


def signed_uri() -> str:
    """The URI HubSpot signed: the public URL when configured (behind a proxy), else ours."""
    public = runtime().settings.server.public_url
    if public:
        path = request.full_path.rstrip("?")
        return unquote(public.rstrip("/") + path)
    return unquote(request.url)


def _webhook(name: str) -> Any:
    """The CRM's declared webhook format, or 404 for a name no CRM registered."""
    path = platforms.WEBHOOKS.get(name)
    if path is None:
        raise ApiError(404, "not_found", f"no CRM named {name!r} takes webhooks")
    return platforms.load(path)


def watched_properties(profile: MappingProfile) -> set[str]:
    """Deal properties whose change can change what is planned for the deal."""
    deal = profile.deal
    fields = (
        deal.stage,
        deal.amount,
        deal.currency,
        deal.close_date,
        deal.pipeline,
        deal.is_closed_won,
    )
    return {f for f in fields if f}


def crm_webhook(name: str):
    """Verify, pick the deals that matter, start (or queue) a sync of just those."""
    hook = _webhook(name)
    rt = runtime()
    secret = getattr(getattr(rt.settings.platforms, name), hook.secret_field)
    key = secret.get_secret_value() if secret is not None else ""
    if not key.strip():  # an empty key is no key: anyone could sign with ""
        raise ApiError(
            403, "not_configured", f"platforms.{name}.{hook.secret_field} is not configured"
        )
    body = request.get_data(as_text=True)
    refused = hook.refusal(
        key, request.method, signed_uri(), body, request.headers, int(time.time() * 1000)
    )
    if refused is not None:
        raise ApiError(401, refused.code, refused.message)
    profile = rt.profile
    try:
        events = json.loads(body) if body else None
    except (ValueError, RecursionError):
        raise ApiError(400, "bad_request", "the body is not JSON") from None
    ids = hook.deal_ids(events, watched_properties(profile))
    if ids is None:
        raise ApiError(400, "bad_request", "expected a JSON array of events")
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
    """Register the blueprint and one OpenAPI path per CRM that declares a webhook."""
    paths: dict[str, Any] = {}
    for name, path in platforms.WEBHOOKS.items():
        # One fixed route per CRM, so unknown names are the app's plain 404.
        url = f"/webhooks/{name}"
        app.add_url_rule(
            url, f"webhooks.{name}", crm_webhook, methods=["POST"], defaults={"name": name}
        )
        paths[url] = _spec(platforms.load(path))
    register(paths, {"WebhookResponse": WEBHOOK_RESPONSE})


def _spec(hook: Any) -> dict[str, Any]:
    return {
        "post": {
            "summary": hook.summary,
            "parameters": [
                {"name": header, "in": "header", "required": True, "schema": {"type": "string"}}
                for header in hook.headers
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}
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
                **error_responses(400, 401, 403, 404),
            },
        }
    }
