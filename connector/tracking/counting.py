"""Count tracking requests by outcome (stored, rejected by reason, rate-limited) at the edge.

A WSGI middleware outside everything else, so the fast path and Flask's error answers are
counted the same way without either knowing: the status says what happened, and a 4xx's JSON
``error`` code says why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from connector.counters import (
    TRACKING_FAILED,
    TRACKING_RATE_LIMITED,
    TRACKING_REJECTED,
    TRACKING_STORED,
    Counters,
)

#: The endpoints counted, by path.
ENDPOINTS = {"/collect": "collect", "/identify": "identify"}
#: Error bodies are small JSON; anything longer is not read for its code.
MAX_ERROR_BODY = 8192

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class TrackingCounters:
    """Wraps the app; counts every ``POST`` to a tracking endpoint by its answer."""

    def __init__(self, app: WSGIApp, counters: Callable[[], Counters]) -> None:
        self.app = app
        self.counters = counters

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Pass the request on and count its answer."""
        endpoint = ENDPOINTS.get(environ.get("PATH_INFO", ""))
        if endpoint is None or environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        seen: list[int] = []

        def remember(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            seen.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, *exc_info)

        body = self.app(environ, remember)
        code = seen[-1] if seen else 500
        if code < 400 or code == 429 or code >= 500:
            self._count(endpoint, code, None)
            return body
        raw = _read(body)
        self._count(endpoint, code, _error_code(raw))
        return [raw]

    def _count(self, endpoint: str, status: int, reason: str | None) -> None:
        counters = self.counters()
        if status < 400:
            counters.add(TRACKING_STORED, endpoint)
        elif status == 429:
            counters.add(TRACKING_RATE_LIMITED, endpoint)
        elif status >= 500:
            counters.add(TRACKING_FAILED, endpoint)
        else:
            counters.add(TRACKING_REJECTED, endpoint, reason or f"http_{status}")


def _read(body: Iterable[bytes]) -> bytes:
    try:
        return b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def _error_code(raw: bytes) -> str | None:
    if len(raw) > MAX_ERROR_BODY:
        return None
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    code = answer.get("error") if isinstance(answer, dict) else None
    return code if isinstance(code, str) else None
