"""HubSpot's private-app token info: ``POST /oauth/v2/private-apps/get/access-token-info``.

HubSpot answers ``{"userId", "hubId", "appId", "scopes": [...]}`` for the ``tokenKey`` in
the body. Tests set the scopes the sandbox's token holds (``TokenScopes.scopes``), so doctor
meets a private app that lacks a scope the way it would at HubSpot.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
#: What a private app made as the README says holds.
DEFAULT_SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.deals.read",
    "crm.schemas.contacts.read",
    "crm.schemas.contacts.write",
)


@dataclass
class TokenScopes:
    """The sandbox private app's identity and granted scopes."""

    hub_id: int
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    app_id: int = 2000001
    user_id: int = 3000001

    def answer(self, expected_token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for one token-info request."""
        token = str(body.get("tokenKey") or "")
        if not token:
            return 400, {
                "status": "error",
                "message": "tokenKey is required",
                "category": "VALIDATION_ERROR",
            }
        if not secrets.compare_digest(token, expected_token):
            return 401, {
                "status": "error",
                "message": "The access token provided is not valid or has expired.",
                "category": "INVALID_AUTHENTICATION",
            }
        return 200, {
            "userId": self.user_id,
            "hubId": self.hub_id,
            "appId": self.app_id,
            "scopes": list(self.scopes),
        }


SCHEMA_WRITE = "crm.schemas.contacts.write"
MISSING_SCOPES_MESSAGE = (
    "This app hasn't been granted all required scopes to make this call. Read more about "
    "required scopes here: https://developers.hubspot.com/scopes."
)


def missing_scope_errors(scope: str) -> list[dict[str, Any]]:
    """The ``errors`` of HubSpot's 403 ``MISSING_SCOPES`` answer for ``scope``."""
    return [
        {
            "message": "One or more of the following scopes are required.",
            "context": {"requiredScopes": [scope]},
        }
    ]
