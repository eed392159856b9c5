"""HubSpot's OAuth access-token metadata, for ``closedloop auth hubspot`` with an OAuth token.

``GET /oauth/v1/access-tokens/{token}``: an OAuth access token's metadata (``hub_id``,
``app_id``, ``scopes``, ``expires_in``...), what the SDK's ``oauth.access_tokens_api.get``
reads; it takes no ``Authorization`` header (the token is the argument). An unknown or
expired token is a 404 with HubSpot's error body (status unverified against a live portal).
Private app tokens (``pat-...``) are looked up at ``token_info.py``'s endpoint instead.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from platforms.hubspot.sandbox import HubSpotSandbox

OAUTH_INFO_PREFIX = "/oauth/v1/access-tokens/"


@dataclass
class _Token:
    scopes: tuple[str, ...]
    private_app: bool = False
    expires_at: float | None = None
    app_id: int = 3000001
    user_id: int = 5000001


class HubSpotTokens:
    """Token metadata of one :class:`HubSpotSandbox`."""

    def __init__(self, box: HubSpotSandbox) -> None:
        self.box = box
        self.tokens: dict[str, _Token] = {}

    def add_token(
        self,
        token: str,
        scopes: tuple[str, ...] | list[str],
        *,
        private_app: bool = False,
        expires_in: float | None = None,
    ) -> None:
        """Register an OAuth access token the metadata endpoint knows."""
        expires = time.time() + expires_in if expires_in is not None else None
        self.tokens[token] = _Token(tuple(scopes), private_app, expires)

    def route(self, request: Request) -> Response | None:
        """The answer for the token metadata endpoint, or None for the CRM routes."""
        if request.path.startswith(OAUTH_INFO_PREFIX) and request.method == "GET":
            key = unquote(request.path.removeprefix(OAUTH_INFO_PREFIX))
            token = self.tokens.get(key)
            if token is None or token.private_app or self._expired(token):
                return _error(404, "OBJECT_NOT_FOUND", "Token not found or expired")
            left = int(token.expires_at - time.time()) if token.expires_at else 1800
            return _json(
                {
                    "token": key,
                    "user": "admin@example.com",
                    "hub_domain": "sandbox.hubspot.com",
                    "scopes": list(token.scopes),
                    "hub_id": self.box.portal_id,
                    "app_id": token.app_id,
                    "expires_in": left,
                    "user_id": token.user_id,
                    "token_type": "access",
                }
            )
        return None

    @staticmethod
    def _expired(token: _Token) -> bool:
        return token.expires_at is not None and token.expires_at <= time.time()


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _error(status: int, category: str, message: str) -> Response:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    return _json(body, status)
