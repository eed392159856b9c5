"""Every error leaves as JSON ``{"error": ..., "detail": ...}``, never as an HTML page."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error with an HTTP status, a short code and a detail naming what was wrong."""

    def __init__(self, status: int, error: str, detail: Any = None, headers: dict | None = None):
        super().__init__(error)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers or {}


def error_response(status: int, error: str, detail: Any = None, headers: dict | None = None):
    """A JSON error response."""
    response = jsonify({"error": error, "detail": detail})
    response.status_code = status
    response.headers.update(headers or {})
    return response


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.error, exc.detail, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        name = (exc.name or "error").lower().replace(" ", "_")
        # Keep what the exception adds (``Allow`` on a 405, ``Retry-After``), not its HTML type.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(exc.code or 500, name, exc.description, headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response(500, "internal_error", "see the server log")
