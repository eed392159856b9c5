"""The write of a batch of page views on PostgreSQL: one statement, whatever the batch size.

Visitors, touchpoints and click IDs go in as one JSON parameter each (rows read back with
``json_to_recordset``: Python's JSON encoder is much cheaper than adapting a parameter per
column and row), in one statement of data-modifying CTEs: one round trip, parsed once and kept
prepared by psycopg (its text never changes), and atomic on its own, so a batch is stored whole
or not at all even on a connection in autocommit mode (the hit writer's, which saves ``BEGIN``
and ``COMMIT`` round trips). Foreign keys are checked at the end of the statement, when the
visitors it upserts are there. Times go in as ISO 8601 with their UTC offset (exact to the
microsecond); the touchpoint's ``click_ids`` as the JSON text SQLAlchemy would have bound.

What it stores is what the generic statements in :mod:`connector.tracking.collect` store:
the same merge of visitor columns, touchpoint IDs taken from the sequence in batch order, and
a click ID keeping the first time (and touchpoint) it was seen.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from sqlalchemy import Connection

#: Visitor columns a page view updates when it carries a value (else the stored one stays).
MERGED = (
    "ga_client_id",
    "ga_session_id",
    "fbp",
    "fbc",
    "hubspotutk",
    "user_agent",
    "consent_ad_user_data",
    "consent_ad_personalization",
    "client_ip",
    "client_ip_at",
)
_VISITOR_COLUMNS = (
    ("id", "varchar"),
    ("first_seen_at", "timestamptz"),
    ("last_seen_at", "timestamptz"),
    ("ga_client_id", "varchar"),
    ("ga_session_id", "varchar"),
    ("fbp", "varchar"),
    ("fbc", "varchar"),
    ("hubspotutk", "varchar"),
    ("user_agent", "varchar"),
    ("consent_ad_user_data", "boolean"),
    ("consent_ad_personalization", "boolean"),
    ("client_ip", "varchar"),
    ("client_ip_at", "timestamptz"),
)
_TOUCH_COLUMNS = (
    ("visitor_id", "varchar"),
    ("occurred_at", "timestamptz"),
    ("received_at", "timestamptz"),
    ("url", "text"),
    ("path", "varchar"),
    ("referrer", "text"),
    ("title", "varchar"),
    ("source", "varchar"),
    ("medium", "varchar"),
    ("campaign", "varchar"),
    ("term", "varchar"),
    ("content", "varchar"),
    ("channel", "varchar"),
    ("is_new_session", "boolean"),
    ("click_ids", "text"),  # JSON text, cast on insert
    ("ga_client_id", "varchar"),
    ("ga_session_id", "varchar"),
    ("fbp", "varchar"),
    ("fbc", "varchar"),
    ("consent_ad_user_data", "boolean"),
    ("consent_ad_personalization", "boolean"),
)
_CLICK_COLUMNS = (
    ("visitor_id", "varchar"),
    ("kind", "varchar"),
    ("value", "varchar"),
    ("first_seen_at", "timestamptz"),
    ("ord", "bigint"),
    ("n", "bigint"),
)
_TIMES = {"first_seen_at", "last_seen_at", "occurred_at", "received_at", "client_ip_at"}


def _rows(name: str, columns: tuple[tuple[str, str], ...], alias: str) -> str:
    """The rows of JSON parameter ``name`` as a table ``alias`` with typed columns."""
    typed = ", ".join(f"{column} {kind}" for column, kind in columns)
    return f"json_to_recordset(%({name})s::json) AS {alias}({typed})"


def _sql() -> str:
    """The batch statement; ``ord`` is a touch's place in the batch, ``n`` a click ID's."""
    visitor_names = ", ".join(name for name, _ in _VISITOR_COLUMNS)
    merged = ", ".join(f"{name} = coalesce(excluded.{name}, visitors.{name})" for name in MERGED)
    touch_names = [name for name, _ in _TOUCH_COLUMNS]
    touch_select = ", ".join(
        "t.click_ids::json" if name == "click_ids" else f"t.{name}" for name in touch_names
    )
    return (
        "WITH v AS ("
        f"INSERT INTO visitors ({visitor_names}) "
        f"SELECT {visitor_names} FROM {_rows('visitors', _VISITOR_COLUMNS, 'u')} ORDER BY id "
        "ON CONFLICT (id) DO UPDATE SET "
        "last_seen_at = greatest(excluded.last_seen_at, visitors.last_seen_at), "
        "first_seen_at = least(excluded.first_seen_at, visitors.first_seen_at), "
        f"{merged}), "
        "t AS ("
        "SELECT nextval(pg_get_serial_sequence('touchpoints', 'id')) AS id, u.* "
        f"FROM (SELECT * FROM {_rows('touches', (*_TOUCH_COLUMNS, ('ord', 'bigint')), 'u')} "
        "ORDER BY ord) AS u), "
        "i AS ("
        f"INSERT INTO touchpoints (id, {', '.join(touch_names)}) "
        f"SELECT t.id, {touch_select} FROM t), "
        "c AS ("
        "INSERT INTO click_ids (visitor_id, kind, value, first_seen_at, touchpoint_id) "
        "SELECT k.visitor_id, k.kind, k.value, k.first_seen_at, t.id "
        f"FROM {_rows('clicks', _CLICK_COLUMNS, 'k')} JOIN t ON t.ord = k.ord "
        "ORDER BY k.n "
        "ON CONFLICT (kind, value) DO NOTHING) "
        "SELECT id FROM t ORDER BY ord"
    )


_SQL = _sql()


def _bind(name: str, value: Any) -> Any:
    """What the ORM column types would bind: UTC times (never naive), JSON as text."""
    if value is None:
        return None
    if name in _TIMES:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).isoformat()
    if name == "click_ids":
        return json.dumps(value)
    return value


def store_pg(
    conn: Connection, visitors: list[dict[str, Any]], touches: list[dict[str, Any]]
) -> list[int]:
    """Upsert ``visitors`` (one row each), insert ``touches`` and their click IDs; touch IDs."""
    visitor_rows = [
        {name: _bind(name, row[name]) for name, _ in _VISITOR_COLUMNS} for row in visitors
    ]
    touch_rows = []
    clicks: dict[tuple[str, str], dict[str, Any]] = {}
    for ord_, row in enumerate(touches, 1):
        touch = {name: _bind(name, row[name]) for name, _ in _TOUCH_COLUMNS}
        touch["ord"] = ord_
        touch_rows.append(touch)
        for kind, value in (row["click_ids"] or {}).items():
            clicks.setdefault(
                (kind, value),
                {
                    "visitor_id": row["visitor_id"],
                    "kind": kind,
                    "value": value,
                    "first_seen_at": touch["occurred_at"],
                    "ord": ord_,
                    "n": len(clicks) + 1,
                },
            )
    params = {
        "visitors": json.dumps(visitor_rows),
        "touches": json.dumps(touch_rows),
        "clicks": json.dumps(list(clicks.values())),
    }
    return [row[0] for row in conn.exec_driver_sql(_SQL, params)]
