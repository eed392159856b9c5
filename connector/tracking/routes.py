"""HTTP endpoints of tracking: /t.js, /collect, /identify, /privacy/forget.

Browsers post ``text/plain`` JSON (what ``sendBeacon`` sends, and what needs no CORS
preflight) or ``application/json``. Requests with an ``Origin`` header must come from
``server.allowed_origins`` (or the service's own origin); requests without one (telephony
webhooks, scripts) are judged by their token where one is needed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ValidationError

from connector.app import openapi
from connector.app.body import parse_object
from connector.app.context import runtime
from connector.app.errors import ApiError
from connector.app.ops import require_token, trigger_token
from connector.storage.models import utcnow
from connector.tracking import clientip, collect, forget, identify, snippet
from connector.tracking.counting import TrackingCounters
from connector.tracking.fastpath import JSON_TYPES, RATE_CHARGED, CollectFastPath, cors_headers
from connector.tracking.ratelimit import RateLimiter, retry_after_header
from connector.tracking.schemas import Forget, Identify, PageView, field_errors, openapi_schemas
from connector.tracking.worker import WritebackWorker
from connector.tracking.writer import HitWriter

blueprint = Blueprint("tracking", __name__)

LIMITER, WORKER, HITS = "closedloop.ratelimit", "closedloop.writeback", "closedloop.hits"


def init_app(app: Flask) -> None:
    """Register the blueprint, the per-process rate limiter and write-back worker, OpenAPI."""
    settings = app.extensions["closedloop"].settings
    app.extensions[LIMITER] = RateLimiter(settings.server.rate_limit_per_minute)
    app.extensions[WORKER] = WritebackWorker(app.extensions["closedloop"])
    app.extensions[HITS] = HitWriter(app.extensions["closedloop"].engine)
    app.register_blueprint(blueprint)
    app.wsgi_app = CollectFastPath(  # type: ignore[method-assign]
        app.wsgi_app,
        writer=app.extensions[HITS],
        limiter=app.extensions[LIMITER],
        writeback=app.extensions[WORKER],
        allowed_origins=settings.server.allowed_origins,
        max_body_bytes=settings.server.max_body_bytes,
        max_past=timedelta(hours=settings.tracking.accept_client_time_hours),
        client_ip=clientip.from_settings(settings.tracking, settings.server.trusted_proxies),
    )
    rt = app.extensions["closedloop"]
    app.wsgi_app = TrackingCounters(app.wsgi_app, lambda: rt.counters)  # type: ignore[method-assign]
    openapi.register(_openapi_paths(), openapi_schemas())


# -- guards ----------------------------------------------------------------------------------


def _origin_allowed(origin: str) -> bool:
    """The service's own origin, or one listed in ``server.allowed_origins`` (or ``*``)."""
    allowed = runtime().settings.server.allowed_origins
    origin = origin.rstrip("/").lower()
    if origin == request.host_url.rstrip("/").lower() or "*" in allowed:
        return True
    return any(origin == entry.rstrip("/").lower() for entry in allowed)


@blueprint.before_request
def _guard() -> Response | None:
    """CORS preflight, origin check and rate limit, before any body is read."""
    current_app.extensions[WORKER].ensure_started()
    if request.method == "GET":
        return None
    origin = request.headers.get("Origin")
    if origin is not None and not _origin_allowed(origin):
        raise ApiError(403, "origin_not_allowed", "add the site to server.allowed_origins")
    if request.method == "OPTIONS":
        return Response(status=204, headers={"Access-Control-Max-Age": "86400"})
    if request.environ.get(RATE_CHARGED):  # the fast path took this request's token
        return None
    wait = current_app.extensions[LIMITER].take(request.remote_addr or "unknown")
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            "too many requests from this address",
            headers={"Retry-After": retry_after_header(wait)},
        )
    return None


@blueprint.after_request
def _cors(response: Response) -> Response:
    """Echo an allowed origin; browsers then let the page read the answer."""
    origin = request.headers.get("Origin")
    if origin is not None and request.method != "GET" and _origin_allowed(origin):
        for name, value in cors_headers(origin):
            if name == "Vary":
                response.vary.add(value)
            else:
                response.headers[name] = value
    return response


def _body(model: type[BaseModel], *, json_only: bool = False) -> Any:
    """The request body validated as ``model``; 415/400 (413 comes from Flask's size cap)."""
    mimetype = request.mimetype
    accepted = ("application/json",) if json_only else JSON_TYPES
    if mimetype not in accepted:
        raise ApiError(415, "unsupported_media_type", f"send one of: {', '.join(accepted)}")
    data = parse_object(request.get_data(cache=False))
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", field_errors(exc)) from None
    if problems := getattr(body, "problems", lambda: [])():
        raise ApiError(400, "invalid_request", problems)
    return body


# -- endpoints -------------------------------------------------------------------------------


@blueprint.get("/t.js")
def tracking_script() -> Response:
    """The snippet, with this install's settings; cacheable, revalidated by ETag."""
    settings = runtime().settings
    script = snippet.build_script(settings, settings.server.public_url or request.host_url)
    response = Response(script.body, mimetype="application/javascript")
    response.set_etag(script.etag)
    response.headers["Cache-Control"] = f"public, max-age={snippet.CACHE_SECONDS}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Public and identical for every site: lets sites load it with crossorigin/SRI.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response.make_conditional(request)


@blueprint.route("/collect", methods=["POST", "OPTIONS"])
def collect_page_view() -> Response:
    """Store one page view; 204 (nothing for the browser to read)."""
    settings = runtime().settings
    tracking = settings.tracking
    hit = collect.Hit(
        _body(PageView),
        utcnow(),
        request.headers.get("User-Agent"),
        timedelta(hours=tracking.accept_client_time_hours),
        clientip.from_settings(tracking, settings.server.trusted_proxies)(
            request.remote_addr, request.headers.get("X-Forwarded-For")
        ),
    )
    current_app.extensions[HITS].write(hit)
    return Response(status=204)


@blueprint.route("/identify", methods=["POST", "OPTIONS"])
def identify_lead() -> tuple[Response, int]:
    """Link visitor and person, record the lead, wake the CRM write-back; 202."""
    body = _body(Identify)
    if body.kind == "call":
        require_token(trigger_token())
    rt = runtime()
    try:
        result = identify.identify(rt.sessions, body, rt.settings, now=utcnow())
    except identify.InvalidIdentity as exc:
        raise ApiError(
            400, "invalid_request", [{"field": exc.field, "message": str(exc)}]
        ) from None
    current_app.extensions[WORKER].wake()
    return jsonify({"status": "accepted", "lead_id": result.lead_id}), 202


@blueprint.route("/privacy/forget", methods=["POST"])
def privacy_forget() -> Response:
    """Erase a person (token-protected) everywhere; per place, what was erased."""
    require_token(trigger_token())
    body = _body(Forget, json_only=True)
    try:
        report = forget.erase(runtime(), email=body.email, visitor_id=body.visitor_id)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise ApiError(400, "invalid_request", [{"field": field, "message": message}]) from None
    return jsonify(report)


# -- OpenAPI ---------------------------------------------------------------------------------


def _post(summary: str, schema: str, ok: dict[str, Any], *codes: int, **extra: Any) -> dict:
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                },
            },
            "responses": {**ok, **openapi.error_responses(*codes)},
            **extra,
        }
    }


def _openapi_paths() -> dict[str, Any]:
    return {
        "/t.js": {
            "get": {
                "summary": "The tracking snippet (JavaScript)",
                "responses": {"200": {"description": "script"}, "304": {"description": "same"}},
            }
        },
        "/collect": _post(
            "Record a page view (also accepts text/plain JSON from sendBeacon)",
            "PageView",
            {"204": {"description": "stored"}},
            400,
            403,
            413,
            415,
            429,
        ),
        "/identify": _post(
            "Tie a visitor to a person (form), or record a call (kind=call, bearer token)",
            "Identify",
            {"202": {"description": "lead recorded; CRM write-back queued"}},
            400,
            401,
            403,
            413,
            415,
            429,
        ),
        "/privacy/forget": _post(
            "Erase a person or visitor everywhere (tables, outbox, CRM, platforms)",
            "Forget",
            {
                "200": {
                    "description": "what was erased where; outside systems that failed are "
                    "retried later (see complete and outstanding)",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ForgetReport"}
                        }
                    },
                }
            },
            400,
            401,
            403,
            413,
            415,
            429,
            security=openapi.BEARER,
        ),
    }
