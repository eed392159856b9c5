"""Who may read reports: a dashboard session, the dashboard token, or the trigger token."""

from __future__ import annotations

import hmac

from flask import request

from connector.app.context import runtime
from connector.app.errors import ApiError
from connector.dashboard import sessions, throttle


def reader_tokens() -> list[str]:
    """Bearer tokens that grant read access to reports."""
    settings = runtime().settings
    tokens = [settings.dashboard.token, settings.server.trigger_token]
    return [t.get_secret_value() for t in tokens if t is not None and t.get_secret_value()]


def require_reader() -> None:
    """401 unless the request carries a valid token or a logged-in dashboard session.

    Wrong tokens count as failed log-ins of the client's address: once it is locked, tokens
    are not even compared (429 with ``Retry-After``), so they cannot be guessed at speed.
    """
    if sessions.current_user():
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        keys = [throttle.by_address(request.remote_addr)]
        wait = throttle.wait_seconds(runtime().engine, keys)
        if wait:
            _too_many(wait)
        if any(hmac.compare_digest(token.encode(), t.encode()) for t in reader_tokens()):
            return
        wait = throttle.record_failure(runtime().engine, keys)
        if wait:
            _too_many(wait)
    raise ApiError(
        401,
        "unauthorized",
        "log in at /dashboard or send Authorization: Bearer <dashboard.token>",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _too_many(wait: int) -> None:
    raise ApiError(
        429,
        "rate_limited",
        f"Authorization: too many wrong tokens from this address; try again in {wait} s",
        headers={"Retry-After": str(wait)},
    )
