"""Dashboard sessions: one signing key per installation, safe cookie flags, server-side ends.

Flask signs the session cookie with ``app.secret_key``. A random key per process broke every
deployment with more than one gunicorn worker (a session made by one worker was "expired" in
the next), so without a configured ``dashboard.secret_key`` the key is the installation's,
kept in its database and read on first use (not at start, so a database that is briefly down
does not stop workers from booting; requests without a session cookie never need it).

A signed cookie alone cannot be revoked: logging out only asked the browser to forget it. Each
log-in therefore also gets a row (by the SHA-256 of a random session ID) that logging out
deletes, so a copied cookie stops working everywhere the moment its owner logs out.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from typing import Any

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import Engine, delete, select

from connector.app.context import runtime
from connector.storage.db import READ_ONLY
from connector.storage.installation import installation_secret
from connector.storage.models import DashboardSession, utcnow

#: The name of the installation secret that signs dashboard sessions.
SESSION_KEY = "dashboard_session_key"


class InstallationKeySessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the key read from the installation on first use.

    Cookies are ``Secure`` when the app is configured so (an ``https`` public URL) and
    whenever the request itself came over HTTPS.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()

    def open_session(self, app: Flask, request: Any) -> Any:
        """No cookie, no key needed: a fresh session, signed only if something is stored."""
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app: Flask) -> Any:
        """The serializer over the configured key or, lacking one, the installation's."""
        if not app.secret_key:
            with self._lock:
                if not app.secret_key:
                    app.secret_key = installation_secret(self._engine, SESSION_KEY)
        return super().get_signing_serializer(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure if configured, or if this request arrived over HTTPS."""
        return bool(super().get_cookie_secure(app) or request.is_secure)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(user: str) -> None:
    """Log ``user`` in: a new session ID (never the pre-login one) with its row."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    with runtime().sessions.begin() as db:
        db.execute(delete(DashboardSession).where(DashboardSession.expires_at < now))
        db.add(
            DashboardSession(
                id_sha256=_digest(session_id),
                user=user[:128],
                created_at=now,
                expires_at=now + current_app.permanent_session_lifetime,
            )
        )
    session.clear()
    session["user"], session["sid"] = user[:128], session_id
    g.closedloop_user = user[:128]


def current_user() -> str | None:
    """The logged-in user of this request, if its session row still exists and is live."""
    if "closedloop_user" in g:
        return g.closedloop_user
    user, session_id = session.get("user"), session.get("sid")
    found = None
    if isinstance(user, str) and isinstance(session_id, str):
        # Read-only: on SQLite it takes no write lock beside the tracker's writers.
        with runtime().engine.connect().execution_options(**{READ_ONLY: True}) as conn:
            row = conn.execute(
                select(DashboardSession.user, DashboardSession.expires_at).where(
                    DashboardSession.id_sha256 == _digest(session_id)
                )
            ).first()
        if row is not None and row.user == user and row.expires_at > utcnow():
            found = user
    g.closedloop_user = found
    return found


def end() -> None:
    """Log out: the row goes (the cookie is dead on every process), then the cookie."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        with runtime().sessions.begin() as db:
            db.execute(
                delete(DashboardSession).where(DashboardSession.id_sha256 == _digest(session_id))
            )
    session.clear()
    g.closedloop_user = None


def init_app(app: Flask) -> None:
    """Sessions for ``app``: the configured key if any, cookie flags, the installation's key."""
    settings = app.extensions["closedloop"].settings
    key = settings.dashboard.secret_key
    if key is not None and key.get_secret_value():
        app.secret_key = key.get_secret_value()
    app.session_interface = InstallationKeySessions(app.extensions["closedloop"].engine)
    # Set, not setdefault: Flask's defaults already hold these keys (SameSite there is None).
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = (settings.server.public_url or "").startswith("https:")
