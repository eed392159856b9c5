"""The Graph API's ad account pixel listing, for ``closedloop meta pixels``.

``GET /{version}/act_{id}/adspixels?fields=id,name,last_fired_time``: the ad account's pixels
(datasets), paged with cursors; ``last_fired_time`` is the newest event the sandbox accepted
for the pixel (or the seeded one), in Graph's ``+0000`` timestamp form. The token must be the
one the ad account accepts (Graph's code 190 otherwise). ``debug_token`` is answered by
``nodes.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from platforms.meta.sandbox import MetaSandbox

PIXEL_FIELDS = frozenset({"id", "name", "last_fired_time", "creation_time", "is_unavailable"})


@dataclass
class PixelInfo:
    """An ad account's pixel as ``adspixels`` lists it."""

    name: str
    ad_account_id: str
    last_fired: datetime | None = None
    created: datetime | None = None


class MetaPixels:
    """The pixel listings of one :class:`MetaSandbox`."""

    def __init__(self, box: MetaSandbox) -> None:
        self.box = box
        self.pixels: dict[str, PixelInfo] = {}

    def reset(self) -> None:
        """The sandbox's own pixel, in its own ad account."""
        self.pixels = {
            self.box.pixel_id: PixelInfo("closedloop sandbox pixel", self.box.ad_account_id)
        }

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
        if len(parts) == 3 and parts[1].startswith("act_") and parts[2] == "adspixels":
            token = request.values.get("access_token")
            if not token:
                raise GraphError("An access token is required to request this resource.", code=104)
            return self._adspixels(parts[1].removeprefix("act_"), token, request)
        return None

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
