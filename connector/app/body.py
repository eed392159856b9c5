"""Small request-input guards shared by the ops endpoints: JSON bodies and row IDs.

Flask's ``get_json(silent=True)`` only swallows ``ValueError``; a body nested deeper than the
parser's recursion limit raises ``RecursionError`` and became a 500. Here every malformed body
is a 400 naming what is wrong.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Request

from connector.app.errors import ApiError

#: Largest ID a row can have on every supported database (a signed 64-bit integer).
MAX_ROW_ID = 2**63 - 1


def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object; ``{}`` when there is none or it is not declared as JSON."""
    if not request.is_json:
        return {}
    raw = request.get_data(cache=False)
    return parse_object(raw) if raw.strip() else {}


def parse_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object, or a 400 saying why not (bad JSON, too deep, not an object)."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", [{"field": "body", "message": "must be an object"}])
    return data
