"""An OAuth 2.0 token endpoint like Google's, so google-auth refreshes tokens locally.

The credentials' ``token_uri`` points here. Refresh tokens and service accounts are registered
with the scopes they were granted; the emulators then check each access token's scopes, so an
adapter that asks for the wrong scope fails as it would against Google.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

TOKEN_PATH = "/token"


@dataclass
class _Grant:
    client_id: str
    client_secret: str
    scopes: frozenset[str]


@dataclass
class _Token:
    scopes: frozenset[str]
    expires_at: float


@dataclass
class TokenIssuer:
    """Issues and checks access tokens. Mount ``handle`` at ``TOKEN_PATH`` of an emulator."""

    token_seconds: int = 3600
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _service_accounts: dict[str, tuple[bytes, frozenset[str]]] = field(default_factory=dict)
    _tokens: dict[str, _Token] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    issued: int = 0

    def add_refresh_token(
        self, refresh_token: str, client_id: str, client_secret: str, scopes: set[str]
    ) -> None:
        """Register an installed-app/web client's refresh token with its granted scopes."""
        self._grants[refresh_token] = _Grant(client_id, client_secret, frozenset(scopes))

    def add_service_account(
        self, client_email: str, public_cert_pem: bytes, scopes: set[str]
    ) -> None:
        """Register a service account by its signing certificate and allowed scopes."""
        self._service_accounts[client_email] = (public_cert_pem, frozenset(scopes))

    def mint(self, scopes: set[str]) -> str:
        """Issue a token directly (for tests of the emulator itself)."""
        return self._issue(frozenset(scopes))["access_token"]

    def check(self, authorization: str | None, scope: str) -> str | None:
        """None if the bearer token is live and has ``scope``; else the reason it fails."""
        if not authorization or not authorization.lower().startswith("bearer "):
            return "UNAUTHENTICATED: missing bearer token"
        token = self._tokens.get(authorization.split(" ", 1)[1].strip())
        if token is None or token.expires_at < time.time():
            return "UNAUTHENTICATED: invalid or expired access token"
        if scope not in token.scopes:
            return f"PERMISSION_DENIED: ACCESS_TOKEN_SCOPE_INSUFFICIENT (needs {scope})"
        return None

    def handle(self, request: Request) -> Response:
        """The token endpoint (form-encoded POST, Google's JSON answers)."""
        if request.method != "POST":
            return _error(405, "invalid_request", "POST only")
        form = request.form
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            grant = self._grants.get(form.get("refresh_token", ""))
            if grant is None:
                return _error(400, "invalid_grant", "Token has been expired or revoked.")
            if (form.get("client_id"), form.get("client_secret")) != (
                grant.client_id,
                grant.client_secret,
            ):
                return _error(401, "invalid_client", "The OAuth client was not found.")
            requested = frozenset(form.get("scope", "").split()) or grant.scopes
            if not requested <= grant.scopes:
                return _error(400, "invalid_scope", "Some requested scopes were invalid.")
            return _json(self._issue(requested))
        if grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self._jwt_grant(form.get("assertion", ""))
        return _error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def _jwt_grant(self, assertion: str) -> Response:
        from google.auth import jwt

        try:
            claims = jwt.decode(assertion, verify=False)
            cert, allowed = self._service_accounts[claims["iss"]]
            claims = jwt.decode(assertion, certs=[cert.decode()], audience=None)
        except (KeyError, ValueError) as exc:
            return _error(400, "invalid_grant", f"Invalid JWT: {exc}")
        requested = frozenset(str(claims.get("scope", "")).split())
        if not requested or not requested <= allowed:
            return _error(
                400, "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        return _json(self._issue(requested))

    def _issue(self, scopes: frozenset[str]) -> dict[str, Any]:
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = _Token(scopes, time.time() + self.token_seconds)
            self.issued += 1
        return {
            "access_token": token,
            "expires_in": self.token_seconds,
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }


def _json(body: dict[str, Any], status: int = 200) -> Response:
    import json

    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, error: str, description: str) -> Response:
    return _json({"error": error, "error_description": description}, status)
