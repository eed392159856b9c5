"""Graph nodes doctor reads: ``debug_token``, the pixel (dataset) and the ad account.

``GET /{version}/debug_token?input_token=...`` answers ``{"data": {app_id, type,
application, is_valid, scopes, expires_at, ...}}``; an unknown input token is
``is_valid: false`` with the error inside ``data``, and an unknown *calling* token is the
usual code 190. ``GET /{version}/{pixel_id}`` and ``GET /{version}/act_{id}`` answer the
requested ``fields``; a node the token may not read is code 100 / subcode 33, as Graph says it.
Tests change a token's scopes (``set_scopes``) and an account's status (``set_account_status``)
to meet each failure.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from platforms.meta.sandbox import MetaSandbox

APP_ID = "100000000000001"
#: What a system-user token made for closedloop holds.
DEFAULT_SCOPES = ("ads_management", "ads_read", "business_management")
ACCOUNT_ACTIVE = 1


@dataclass
class GraphNodes:
    """Token metadata and node reads for the Meta sandbox."""

    sandbox: MetaSandbox
    scopes: dict[str, list[str]] = field(default_factory=dict)
    account_status: dict[str, int] = field(default_factory=dict)

    def set_scopes(self, token: str, scopes: list[str]) -> None:
        """The permissions ``debug_token`` reports for ``token``."""
        self.scopes[token] = list(scopes)

    def set_account_status(self, ad_account_id: str, status: int) -> None:
        """An ad account's ``account_status`` (1 active, 2 disabled, 3 unsettled, ...)."""
        self.account_status[str(ad_account_id).removeprefix("act_")] = status

    def _known(self, token: str) -> bool:
        tokens = set(self.sandbox._pixels.values())
        tokens |= {t for t, _ in self.sandbox._accounts.values()}
        return any(secrets.compare_digest(token, t) for t in tokens)

    def get(self, request: Request, node: str) -> Response:
        """Answer ``GET /{version}/{node}``."""
        from platforms.meta.sandbox import SUB_OBJECT_MISSING, GraphError, _json

        token = request.values.get("access_token", "")
        if not token:
            raise GraphError("An access token is required to request this resource.", code=104)
        if not self._known(token):
            raise GraphError("Invalid OAuth access token - Cannot parse access token", code=190)
        if node == "debug_token":
            return _json({"data": self._debug(request.values.get("input_token", ""))})
        fields = [f for f in request.values.get("fields", "id").split(",") if f]
        values = self._node(node, token)
        if values is None:
            raise GraphError(
                f"Unsupported get request. Object with ID '{node}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                code=100,
                subcode=SUB_OBJECT_MISSING,
                type_="GraphMethodException",
            )
        return _json({k: values[k] for k in fields if k in values} | {"id": values["id"]})

    def _debug(self, input_token: str) -> dict[str, Any]:
        if not self._known(input_token):
            return {
                "error": {"code": 190, "message": "Invalid OAuth access token."},
                "is_valid": False,
                "scopes": [],
            }
        now = int(time.time())
        return {
            "app_id": APP_ID,
            "type": "SYSTEM_USER",
            "application": "closedloop sandbox",
            "data_access_expires_at": 0,
            "expires_at": 0,
            "is_valid": True,
            "issued_at": now - 86_400,
            "scopes": self.scopes.get(input_token, list(DEFAULT_SCOPES)),
        }

    def _node(self, node: str, token: str) -> dict[str, Any] | None:
        pixels = self.sandbox._pixels
        accounts = self.sandbox._accounts
        if node.startswith("act_"):
            account = node.removeprefix("act_")
            entry = accounts.get(account)
            if entry is None or not secrets.compare_digest(entry[0], token):
                return None
            return {
                "id": node,
                "account_id": account,
                "name": f"Ad account {account}",
                "account_status": self.account_status.get(account, ACCOUNT_ACTIVE),
                "currency": entry[1],
            }
        expected = pixels.get(node)
        if expected is None or not secrets.compare_digest(expected, token):
            return None
        return {"id": node, "name": f"Dataset {node}", "is_unavailable": False}
