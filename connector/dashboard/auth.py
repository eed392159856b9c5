"""Dashboard login: a username with a password hash, or a token, from ``dashboard.*``."""

from __future__ import annotations

import hmac
import secrets

from flask import session
from werkzeug.security import check_password_hash

from connector.config.models import DashboardSettings


def login_configured(settings: DashboardSettings) -> bool:
    """Whether any way to log in is configured (otherwise the dashboard stays closed)."""
    return bool((settings.username and settings.password_hash) or settings.token)


def check_login(settings: DashboardSettings, username: str, password: str) -> bool:
    """True for the configured user/password, or for the token given as the password."""
    if (
        settings.token
        and password
        and hmac.compare_digest(password.encode(), settings.token.get_secret_value().encode())
    ):
        return True
    if settings.username and settings.password_hash and username == settings.username:
        return check_password_hash(settings.password_hash.get_secret_value(), password)
    return False


def csrf_token() -> str:
    """A per-session token that every dashboard form posts back."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(24)
    return token


def csrf_ok(value: str | None) -> bool:
    """The posted token matches the session's."""
    expected = session.get("csrf")
    # As bytes: compare_digest raises on non-ASCII str, and a forged token must be a 400.
    return bool(expected and value and hmac.compare_digest(expected.encode(), value.encode()))
