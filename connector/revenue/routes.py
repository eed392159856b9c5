"""``POST /revenue``: sales from a shop, a billing system or anything else that can POST JSON.

The body is one sale or an array of them. The caller proves itself with the trigger token
(``Authorization: Bearer``) or with ``X-Closedloop-Signature: sha256=<hex>``, the HMAC-SHA256
of the raw body under ``revenue.sources.<source>.secret``, the source named by the ``source``
query parameter. Each sale is checked on its own and stored whole or not at all; the answer
is 202 with the outcome of every sale, or 400 naming every bad field when no sale is good.
A stored change starts a run ``revenue.sync_after_seconds`` later (``connector.revenue.kick``:
one run for all the sales posted meanwhile), which matches, attributes and sends them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, current_app, jsonify, request

from connector.app.context import runtime
from connector.app.errors import ApiError
from connector.app.openapi import error_responses, register
from connector.app.ops import require_token, trigger_token
from connector.config.models import SOURCE_NAME
from connector.revenue import kick
from connector.revenue import sales as checks
from connector.revenue.signature import HEADER, verify
from connector.revenue.store import store_sales
from connector.storage.models import utcnow

#: The source of sales that name none, posted with the trigger token.
DEFAULT_SOURCE = "webhook"
#: Most sales in one call.
MAX_SALES = 1000
_SOURCE = re.compile(SOURCE_NAME)


def revenue():
    """Authenticate, check every sale, store the good ones, say what became of each."""
    source = _query_source()
    body = request.get_data(cache=True)
    signed = _authenticate(source, body)
    raw = _parse(body)
    many = isinstance(raw, list)
    items = raw if many else [raw]
    if not items:
        raise ApiError(400, "invalid_request", [{"field": "body", "message": "no sales"}])
    if len(items) > MAX_SALES:
        message = f"at most {MAX_SALES} sales per call"
        raise ApiError(400, "invalid_request", [{"field": "body", "message": message}])
    default = source or DEFAULT_SOURCE
    results: list[dict[str, Any]] = []
    good: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        prefix = f"[{index}]" if many else ""
        sale, errors = checks.check_sale(item, default)
        if sale is not None and signed and sale["source"] != source:
            errors = [checks.FieldError("source", f"the signature is {source!r}'s")]
        if sale is not None and not errors:
            key = checks.deal_id(sale["source"], sale["order_id"])
            if key in seen:
                errors = [checks.FieldError("order_id", "repeated in this body")]
            seen.add(key)
        fields = [_path(prefix, e) for e in errors]
        if fields:
            results.append({"result": "rejected", "errors": fields, **_names(item)})
        else:
            assert sale is not None
            good.append((len(results), sale))
            results.append({})
    if not good:
        raise ApiError(400, "invalid_request", [f for r in results for f in r["errors"]])
    outcomes = store_sales(runtime().sessions, [s for _, s in good], utcnow())
    for (at, sale), outcome in zip(good, outcomes, strict=True):
        results[at] = {
            "result": outcome,
            "order_id": sale["order_id"],
            "source": sale["source"],
            "deal_id": checks.deal_id(sale["source"], sale["order_id"]),
        }
    counts = {k: sum(1 for r in results if r["result"] == k) for k in RESULTS}
    if counts["stored"] or counts["updated"]:
        kick.kick(current_app)
    return jsonify({"status": "accepted", **counts, "sales": results}), 202


RESULTS = ("stored", "updated", "unchanged", "rejected")


def _query_source() -> str | None:
    value = request.args.get("source")
    if value is not None and not _SOURCE.match(value):
        message = "must be 1 to 15 of a-z and 0-9"
        raise ApiError(400, "invalid_request", [{"field": "source", "message": message}])
    return value


def _authenticate(source: str | None, body: bytes) -> bool:
    """True for a signed call, False for the trigger token; else 401/403."""
    header = request.headers.get(HEADER)
    if header is None:
        require_token(trigger_token())
        return False
    if source is None:
        message = f"name the source whose secret signs {HEADER}: ?source=<name>"
        raise ApiError(400, "invalid_request", [{"field": "source", "message": message}])
    configured = runtime().settings.revenue.sources.get(source)
    secret = configured.secret.get_secret_value() if configured and configured.secret else ""
    if not secret.strip():
        detail = f"revenue.sources.{source}.secret is not configured"
        raise ApiError(403, "not_configured", detail)
    if not verify(secret, body, header):
        raise ApiError(401, "bad_signature", f"{HEADER} does not match the body")
    return True


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None


def _path(prefix: str, error: checks.FieldError) -> dict[str, str]:
    name = f"{prefix}.{error.field}" if prefix and error.field else prefix + error.field
    return {"field": name or "body", "message": error.message}


def _names(item: Any) -> dict[str, Any]:
    """The order ID of a rejected sale, when it has a usable one (to tell the caller which)."""
    order = item.get("order_id") if isinstance(item, dict) else None
    return {"order_id": order} if isinstance(order, str) and len(order) <= 64 else {}


CLICK_ID = {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"}
CLICK_IDS = {
    "type": "object",
    "properties": {"gclid": CLICK_ID, "fbclid": CLICK_ID},
    "additionalProperties": False,
}
SALE = {
    "type": "object",
    "required": ["order_id", "value", "currency", "time"],
    "additionalProperties": False,
    "properties": {
        "order_id": {
            "oneOf": [
                {"type": "string", "pattern": "^[\\x21-\\x7e]{1,40}$"},
                {"type": "integer", "minimum": 0, "maximum": 10**39},
            ],
            "description": "the dedup key, per source (at most 40 printable characters)",
        },
        "value": {
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": float(checks.MAX_VALUE)},
                {"type": "string", "pattern": "^[0-9]{1,14}(\\.[0-9]{1,4})?$"},
            ],
            "description": "the amount, not negative",
        },
        "currency": {"type": "string", "enum": checks.CURRENCIES, "description": "ISO 4217"},
        "time": {"type": "string", "format": "date-time", "description": "when the sale was made"},
        "source": {"type": "string", "pattern": SOURCE_NAME},
        "email": {"type": "string", "format": "email", "maxLength": 320},
        "phone": {"type": "string", "minLength": 1, "maxLength": 32},
        "crm_contact_id": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,64}$"},
        "visitor_id": {
            "type": "string",
            "pattern": "^[A-Za-z0-9_.-]{8,64}$",
            "description": "the closedloop visitor ID",
        },
        "click_ids": CLICK_IDS,
        "status": {
            "type": "string",
            "enum": list(checks.RETRACTING),
            "description": "takes the sale back: a retraction where the platform can",
        },
    },
}
RESULT = {
    "type": "object",
    "properties": {
        "result": {"type": "string", "enum": list(RESULTS)},
        "order_id": {"type": "string"},
        "source": {"type": "string"},
        "deal_id": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}
RESPONSE = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["accepted"]},
        **{k: {"type": "integer"} for k in RESULTS},
        "sales": {"type": "array", "items": {"$ref": "#/components/schemas/RevenueResult"}},
    },
}
SPEC = {
    "post": {
        "summary": "Sales from other systems (one or many), matched and sent like deals",
        "description": (
            "Authenticate with the trigger token, or sign the raw body: "
            f"`{HEADER}: sha256=<hex HMAC-SHA256 of the body under "
            "revenue.sources.<source>.secret>` with `?source=<source>`. The order ID is the "
            "dedup key per source: the same sale again changes nothing, a changed value is a "
            "restatement, status refunded/cancelled a retraction (where the platform can). "
            "Each sale is stored whole or not at all; 400 when none is good. A stored change "
            "starts a run revenue.sync_after_seconds later (one for every sale posted meanwhile)."
        ),
        # The trigger token, or none when the body is signed instead.
        "security": [{"bearer": []}, {}],
        "parameters": [
            {
                "name": HEADER,
                "in": "header",
                "required": False,
                "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
                "description": "HMAC-SHA256 of the raw body under the source's secret",
            },
            {
                "name": "source",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": SOURCE_NAME},
                "description": "the source of sales that name none; required when signed",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/RevenueSale"},
                            {
                                "type": "array",
                                "minItems": 1,
                                "maxItems": MAX_SALES,
                                "items": {"$ref": "#/components/schemas/RevenueSale"},
                            },
                        ]
                    }
                }
            },
        },
        "responses": {
            "202": {
                "description": "what became of each sale",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/RevenueResponse"}}
                },
            },
            **error_responses(400, 401, 403, 413),
        },
    }
}


def init_app(app: Flask) -> None:
    """Register ``POST /revenue`` and its OpenAPI path."""
    app.add_url_rule("/revenue", "revenue", revenue, methods=["POST"])
    kick.install(app)
    register(
        {"/revenue": SPEC},
        {"RevenueSale": SALE, "RevenueResult": RESULT, "RevenueResponse": RESPONSE},
    )
