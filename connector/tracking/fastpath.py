"""A lean WSGI path for the one request that dominates traffic: a valid ``POST /collect``.

Every page view of every site is a ``/collect``, and Flask's per-request machinery (request
context, session cookie, URL routing, before/after hooks, response object) cost more CPU than
validating and storing the hit. This middleware serves the ordinary, valid request directly and
hands everything else (other paths, preflights, unknown origins, wrong content types, oversized
or invalid bodies, rate-limited clients) to Flask unchanged, so every error answer still comes
from the one place that defines it. It only ever answers 204 after the hit is committed, or
500 if storing failed.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from pydantic import ValidationError

from connector.storage.models import utcnow
from connector.tracking.collect import Hit
from connector.tracking.schemas import PageView

log = logging.getLogger(__name__)

#: Set in the WSGI environ when this path already charged the client's rate limit.
RATE_CHARGED = "closedloop.rate_charged"
JSON_TYPES = ("application/json", "text/plain")
_FAILED = json.dumps({"error": "internal_error", "detail": "see the server log"}).encode() + b"\n"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CollectFastPath:
    """WSGI middleware in front of the Flask app; see the module docstring."""

    def __init__(
        self,
        app: WSGIApp,
        *,
        writer: Any,
        limiter: Any,
        writeback: Any,
        allowed_origins: list[str],
        max_body_bytes: int,
        max_past: timedelta,
        client_ip: Callable[[str | None, str | None], str | None] = lambda *_: None,
    ) -> None:
        self.app = app
        self.writer, self.limiter, self.writeback = writer, limiter, writeback
        self.any_origin = "*" in allowed_origins
        self.origins = frozenset(o.rstrip("/").lower() for o in allowed_origins)
        self.max_body_bytes = max_body_bytes
        self.max_past = max_past
        self.client_ip = client_ip

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Answer a valid ``POST /collect`` here; pass anything else to Flask."""
        if environ.get("PATH_INFO") != "/collect" or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None and not self._listed(origin):
            return self.app(environ, start_response)  # own origin or 403: Flask decides
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        length = _content_length(environ)
        if mimetype not in JSON_TYPES or length is None or length > self.max_body_bytes:
            return self.app(environ, start_response)
        self.writeback.ensure_started()
        if self.limiter.take(environ.get("REMOTE_ADDR") or "unknown") > 0:
            return self.app(environ, start_response)  # 429, answered by Flask
        environ[RATE_CHARGED] = True
        raw = environ["wsgi.input"].read(length) if length else b""
        view = self._valid(raw) if len(raw) == length else None
        if view is None:  # Flask re-reads the body and names what is wrong
            environ["wsgi.input"] = io.BytesIO(raw)
            return self.app(environ, start_response)
        ip = self.client_ip(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR"))
        hit = Hit(view, utcnow(), environ.get("HTTP_USER_AGENT"), self.max_past, ip)
        headers = cors_headers(origin) if origin is not None else []
        try:
            self.writer.write(hit)
        except Exception:
            log.exception("storing a page view failed")
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(_FAILED)))]
            start_response("500 INTERNAL SERVER ERROR", headers)
            return [_FAILED]
        start_response("204 NO CONTENT", headers)
        return []

    def _listed(self, origin: str) -> bool:
        return self.any_origin or origin.rstrip("/").lower() in self.origins

    @staticmethod
    def _valid(raw: bytes) -> PageView | None:
        """The page view, or None for anything Flask's path would reject."""
        try:
            data = json.loads(raw)
            if not isinstance(data, dict):
                return None
            return PageView.model_validate(data)
        except (ValueError, RecursionError, ValidationError):
            return None


def cors_headers(origin: str) -> list[tuple[str, str]]:
    """The CORS answer for an allowed origin, the same on the fast path and through Flask."""
    return [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", "POST, OPTIONS"),
        ("Access-Control-Allow-Headers", "Content-Type, Authorization"),
        ("Vary", "Origin"),
    ]


def _content_length(environ: dict[str, Any]) -> int | None:
    """A declared, well-formed body length (chunked or odd requests go the long way)."""
    value = environ.get("CONTENT_LENGTH")
    if not value or not value.isdigit() or environ.get("HTTP_TRANSFER_ENCODING"):
        return None
    return int(value)
