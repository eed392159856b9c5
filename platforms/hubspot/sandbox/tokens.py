"""HubSpot's token metadata endpoints, for ``closedloop auth hubspot`` (and doctor).

* ``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": "pat-..."}``:
  a private app token's ``userId``, ``hubId``, ``appId`` and ``scopes``. Not in the Python
  SDK. An unknown token is answered 400 with HubSpot's error body (status and category
  unverified against a live portal).
* ``GET /oauth/v1/access-tokens/{token}``: an OAuth access token's metadata (``hub_id``,
  ``app_id``, ``scopes``, ``expires_in``...), the SDK's ``oauth.access_tokens_api.get``; an
  unknown or expired token is 404 ``BAD_REFRESH_TOKEN``-style body (unverified).

Neither takes an ``Authorization`` header: the token to inspect is the argument.
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

PRIVATE_APP_INFO = "/oauth/v2/private-apps/get/access-token-info"
OAUTH_INFO_PREFIX = "/oauth/v1/access-tokens/"
#: What the sandbox's own private app was granted: what closedloop needs, read and write-back.
DEFAULT_SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.schemas.contacts.write",
    "oauth",
)


@dataclass
class _Token:
    scopes: tuple[str, ...]
    private_app: bool = True
    expires_at: float | None = None
    app_id: int = 3000001
    user_id: int = 5000001


class HubSpotTokens:
    """Token metadata of one :class:`HubSpotSandbox`."""

    def __init__(self, box: HubSpotSandbox) -> None:
        self.box = box
        self.tokens: dict[str, _Token] = {box.access_token: _Token(DEFAULT_SCOPES)}

    def add_token(
        self,
        token: str,
        scopes: tuple[str, ...] | list[str],
        *,
        private_app: bool = True,
        expires_in: float | None = None,
    ) -> None:
        """Register a token the metadata endpoints know (not one the CRM routes accept)."""
        expires = time.time() + expires_in if expires_in is not None else None
        self.tokens[token] = _Token(tuple(scopes), private_app, expires)

    def route(self, request: Request) -> Response | None:
        """The answer for the token endpoints, or None for the CRM routes."""
        if request.path == PRIVATE_APP_INFO and request.method == "POST":
            body = request.get_json(silent=True)
            key = body.get("tokenKey") if isinstance(body, dict) else None
            token = self.tokens.get(key or "")
            if token is None or not token.private_app or self._expired(token):
                return _error(400, "VALIDATION_ERROR", "Invalid token key")
            return _json(
                {
                    "userId": token.user_id,
                    "hubId": self.box.portal_id,
                    "appId": token.app_id,
                    "scopes": list(token.scopes),
                }
            )
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
