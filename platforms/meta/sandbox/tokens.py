"""Graph API token and pixel-listing edges, for ``closedloop auth meta`` and ``meta pixels``.

* ``GET /{version}/debug_token?input_token=...&access_token=...``: the token's metadata
  (``data.is_valid``, ``type``, ``scopes``, ``granular_scopes``, ``expires_at`` with 0 for a
  system user's never-expiring token). The caller's own ``access_token`` must be valid first:
  an unknown one is Graph's code 190 envelope, an expired one 190 with subcode 463. An
  inspected token that is unknown comes back ``is_valid: false`` with its ``error`` inside
  ``data`` (HTTP 200), as Graph answers.
* ``GET /{version}/act_{id}/adspixels?fields=id,name,last_fired_time``: the ad account's
  pixels (datasets), paged with cursors; ``last_fired_time`` is the newest event the sandbox
  accepted for the pixel (or the seeded one), in Graph's ``+0000`` timestamp form.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from platforms.meta.sandbox import MetaSandbox

SUB_EXPIRED = 463
PIXEL_FIELDS = frozenset({"id", "name", "last_fired_time", "creation_time", "is_unavailable"})
SYSTEM_USER_SCOPES = ("ads_management", "ads_read", "business_management")


@dataclass
class TokenInfo:
    """What ``debug_token`` says about one token."""

    scopes: tuple[str, ...] = SYSTEM_USER_SCOPES
    type: str = "SYSTEM_USER"
    app_id: str = "100000000000001"
    application: str = "closedloop sandbox app"
    user_id: str = "61550000000001"
    #: Unix seconds; 0 means never (system-user tokens).
    expires_at: int = 0
    issued_at: int = field(default_factory=lambda: int(time.time()) - 86400)

    def expired(self, now: float) -> bool:
        """Past its ``expires_at`` (never, for 0)."""
        return bool(self.expires_at) and self.expires_at <= now


@dataclass
class PixelInfo:
    """An ad account's pixel as ``adspixels`` lists it."""

    name: str
    ad_account_id: str
    last_fired: datetime | None = None
    created: datetime | None = None


class MetaTokens:
    """Token metadata and pixel listings of one :class:`MetaSandbox`."""

    def __init__(self, box: MetaSandbox) -> None:
        self.box = box
        self.tokens: dict[str, TokenInfo] = {}
        self.pixels: dict[str, PixelInfo] = {}

    def reset(self) -> None:
        """The sandbox's own token is a system user's with the ads permissions."""
        self.tokens = {self.box.access_token: TokenInfo()}
        self.pixels = {
            self.box.pixel_id: PixelInfo("closedloop sandbox pixel", self.box.ad_account_id)
        }

    def add_token(self, token: str, **info: Any) -> None:
        """Register a token ``debug_token`` knows (scopes, type, expires_at...)."""
        self.tokens[token] = TokenInfo(**info)

    def add_pixel(
        self,
        pixel_id: str,
        name: str,
        *,
        ad_account_id: str | None = None,
        last_fired: datetime | None = None,
    ) -> None:
        """Another pixel of an ad account (by default the sandbox's), using the sandbox's token."""
        account = str(ad_account_id or self.box.ad_account_id).removeprefix("act_")
        self.pixels[str(pixel_id)] = PixelInfo(name, account, last_fired)
        self.box.add_pixel(str(pixel_id), self.box.access_token)

    # -- HTTP ----------------------------------------------------------------------------------
    def route(self, request: Request, parts: list[str]) -> Response | None:
        """The answer for this module's edges, or None for the sandbox's other routes."""
        from platforms.meta.sandbox import GraphError

        if request.method != "GET":
            return None
        if len(parts) == 2 and parts[1] == "debug_token":
            return self._debug_token(request)
        if len(parts) == 3 and parts[1].startswith("act_") and parts[2] == "adspixels":
            token = request.values.get("access_token")
            if not token:
                raise GraphError("An access token is required to request this resource.", code=104)
            self._caller(token)
            return self._adspixels(parts[1].removeprefix("act_"), token, request)
        return None

    def _caller(self, token: str) -> TokenInfo:
        from platforms.meta.sandbox import GraphError

        info = self.tokens.get(token)
        if info is None:
            raise GraphError("Invalid OAuth access token - Cannot parse access token", code=190)
        if info.expired(time.time()):
            stamp = datetime.fromtimestamp(info.expires_at).strftime("%A, %d-%b-%y %H:%M:%S")
            raise GraphError(
                f"Error validating access token: Session has expired on {stamp} PST.",
                code=190,
                subcode=SUB_EXPIRED,
            )
        return info

    def _debug_token(self, request: Request) -> Response:
        from platforms.meta.sandbox import GraphError, _json

        caller = request.values.get("access_token")
        if not caller:
            raise GraphError("An access token is required to request this resource.", code=104)
        self._caller(caller)
        input_token = request.values.get("input_token")
        if not input_token:
            raise GraphError("(#100) The parameter input_token is required", code=100)
        info = self.tokens.get(input_token)
        if info is None:
            data: dict[str, Any] = {
                "error": {"code": 190, "message": "Invalid OAuth access token."},
                "is_valid": False,
                "scopes": [],
            }
            return _json({"data": data})
        valid = not info.expired(time.time())
        data = {
            "app_id": info.app_id,
            "type": info.type,
            "application": info.application,
            "data_access_expires_at": 0,
            "expires_at": info.expires_at,
            "is_valid": valid,
            "issued_at": info.issued_at,
            "scopes": list(info.scopes),
            "granular_scopes": [{"scope": s} for s in info.scopes],
            "user_id": info.user_id,
        }
        if not valid:
            data["error"] = {
                "code": 190,
                "message": "Error validating access token: Session has expired.",
                "subcode": SUB_EXPIRED,
            }
        return _json({"data": data})

    def _adspixels(self, account: str, token: str, request: Request) -> Response:
        from platforms.meta.sandbox import GraphError, _decode_cursor, _json

        expected = self.box._accounts.get(account)
        self.box._check_token(expected[0] if expected else None, token, f"act_{account}")
        fields = [f for f in request.args.get("fields", "id").split(",") if f] or ["id"]
        if unknown := [f for f in fields if f not in PIXEL_FIELDS]:
            raise GraphError(
                f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (AdsPixel)",
                code=100,
            )
        rows = [
            self._row(pixel_id, info, fields)
            for pixel_id, info in self.pixels.items()
            if info.ad_account_id == account
        ]
        try:
            limit = min(int(request.args.get("limit", "25")), 100)
            offset = _decode_cursor(request.args.get("after"))
        except ValueError as exc:
            raise GraphError(f"(#100) Invalid paging parameter: {exc}", code=100) from exc
        page = rows[offset : offset + limit]
        return _json({"data": page, **self._paging(request, offset, len(page), len(rows))})

    def _row(self, pixel_id: str, info: PixelInfo, fields: list[str]) -> dict[str, Any]:
        fired = [e["received_at"] for e in self.box.accepted if e["pixel_id"] == pixel_id]
        last = max([*fired, *([info.last_fired] if info.last_fired else [])], default=None)
        row: dict[str, Any] = {"id": pixel_id}
        if "name" in fields:
            row["name"] = info.name
        if "last_fired_time" in fields and last is not None:
            row["last_fired_time"] = last.strftime("%Y-%m-%dT%H:%M:%S+0000")
        if "is_unavailable" in fields:
            row["is_unavailable"] = False
        return row

    def _paging(self, request: Request, offset: int, page: int, total: int) -> dict[str, Any]:
        """Graph's cursors (the SDK's ``Cursor`` follows ``after`` while ``next`` is present)."""
        from platforms.meta.sandbox import _encode_cursor

        if not total:
            return {}
        after = _encode_cursor(offset + page)
        paging: dict[str, Any] = {"cursors": {"before": _encode_cursor(offset), "after": after}}
        if offset + page < total:
            query = {**request.args.to_dict(), "after": after}
            paging["next"] = f"{self.box.url}{request.path}?{urlencode(query)}"
        return {"paging": paging}
