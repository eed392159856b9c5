"""Who may read reports: a dashboard session, the dashboard token, or the trigger token."""

from __future__ import annotations

import hmac

from flask import request, session

from connector.app.context import runtime
from connector.app.errors import ApiError


def reader_tokens() -> list[str]:
    """Bearer tokens that grant read access to reports."""
    settings = runtime().settings
    tokens = [settings.dashboard.token, settings.server.trigger_token]
    return [t.get_secret_value() for t in tokens if t is not None and t.get_secret_value()]


def require_reader() -> None:
    """401 unless the request carries a valid token or a logged-in dashboard session."""
    if session.get("user"):
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and any(
        hmac.compare_digest(token.strip().encode(), t.encode()) for t in reader_tokens()
    ):
        return
    raise ApiError(
        401,
        "unauthorized",
        "log in at /dashboard or send Authorization: Bearer <dashboard.token>",
        headers={"WWW-Authenticate": "Bearer"},
    )
