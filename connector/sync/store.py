"""Bulk writes that behave the same on SQLite and PostgreSQL: upserts and insert-or-ignore."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.attribution import MODELS
from connector.storage.models import Conversion, Cursor, Deal, utcnow
from connector.sync.plan import ExistingRow

CHUNK = 400


def _insert(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, or update every given column of the row with the same key."""
    if not rows:
        return
    stmt = _insert(session, table)
    columns = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(
        index_elements=keys, set_={c: stmt.excluded[c] for c in columns}
    )
    # One compiled statement, executed for many parameter sets (cached across pages).
    session.execute(stmt, list(rows))


def insert_new(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> list[dict[str, Any]]:
    """Insert rows whose key is new; the others are left alone. Returns the rows inserted."""
    if not rows:
        return []
    key_columns = [table.c[k] for k in keys]
    stmt = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=keys)
        .returning(*key_columns, sort_by_parameter_order=True)
    )
    new = {tuple(r) for r in session.execute(stmt, list(rows))}
    return [r for r in rows if tuple(r[k] for k in keys) in new]


CONVERSION_COLUMNS = (
    "deal_id",
    "destination",
    "kind",
    "event_name",
    "dedup_key",
    "adjusts_key",
    "options",
    "value",
    "currency",
    "event_time",
    "identifiers",
    "run_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
_JSON_COLUMNS = {"options", "identifiers"}


def insert_conversions(
    session: Session, rows: Sequence[dict[str, Any]], run_id: int
) -> list[dict[str, Any]]:
    """Outbox rows, idempotent on (destination, kind, dedup_key). Returns the rows inserted."""
    if not rows:
        return []
    now = utcnow()
    full = [
        {
            **r,
            "run_id": run_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for r in rows
    ]
    keys = ["destination", "kind", "dedup_key"]
    if session.get_bind().dialect.name != "postgresql":
        return insert_new(session, Conversion.__table__, full, keys)
    # PostgreSQL: a prepared INSERT run in pipeline mode is several times faster than a
    # multi-VALUES statement psycopg must re-parse per page. The sync holds the lease, so the
    # keys not found beforehand are exactly the rows this insert adds.
    existing = {
        tuple(r)
        for r in session.execute(
            select(Conversion.destination, Conversion.kind, Conversion.dedup_key).where(
                # All three columns, so the unique (destination, kind, dedup_key) index serves it.
                Conversion.destination.in_(sorted({r["destination"] for r in full})),
                Conversion.kind.in_(sorted({r["kind"] for r in full})),
                Conversion.dedup_key.in_(sorted({r["dedup_key"] for r in full})),
            )
        )
    }
    new = [r for r in full if (r["destination"], r["kind"], r["dedup_key"]) not in existing]
    if new:
        marks = ", ".join("%s::json" if c in _JSON_COLUMNS else "%s" for c in CONVERSION_COLUMNS)
        sql = (
            f"INSERT INTO conversions ({', '.join(CONVERSION_COLUMNS)}) VALUES ({marks}) "
            "ON CONFLICT (destination, kind, dedup_key) DO NOTHING"
        )
        params = [
            tuple(json.dumps(r[c]) if c in _JSON_COLUMNS else r[c] for c in CONVERSION_COLUMNS)
            for r in new
        ]
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            cursor.executemany(sql, params)
    return new


def existing_rows(session: Session, deal_ids: Sequence[str]) -> dict[str, list[ExistingRow]]:
    """Every outbox row already planned for these deals."""
    out: dict[str, list[ExistingRow]] = {d: [] for d in deal_ids}
    if not deal_ids:
        return out
    c = Conversion
    stmt = select(
        c.deal_id,
        c.destination,
        c.kind,
        c.event_name,
        c.dedup_key,
        c.adjusts_key,
        c.value,
        c.currency,
        c.event_time,
        c.identifiers,
        c.options,
    ).where(c.deal_id.in_(list(deal_ids)))
    for row in session.execute(stmt):
        out[row[0]].append(ExistingRow(*row[1:10], row[10] or {}))
    return out


def prior_deals(session: Session, deal_ids: Sequence[str]) -> dict[str, Any]:
    """Stored deal rows (as Core rows) by ID."""
    if not deal_ids:
        return {}
    d = Deal
    stmt = select(
        d.id,
        d.is_won,
        d.stage,
        d.sent_amount,
        d.sent_currency,
        d.match_status,
        d.first_touch_channel,
        d.first_touch_source,
        d.last_touch_channel,
        d.last_touch_source,
        d.first_seen_at,
    ).where(d.id.in_(list(deal_ids)))
    return {row[0]: row for row in session.execute(stmt)}


def read_cursor(session: Session, name: str) -> str | None:
    """A stored cursor value."""
    return session.scalar(select(Cursor.value).where(Cursor.name == name))


def write_cursor(session: Session, name: str, value: str) -> None:
    """Set a cursor (in the caller's transaction)."""
    upsert(
        session,
        Cursor.__table__,
        [{"name": name, "value": value, "updated_at": utcnow()}],
        ["name"],
    )


def pending_ids(session: Session, prefix: str) -> list[str]:
    """Deal IDs remembered by cursors named ``<prefix><id>``."""
    names = session.scalars(
        select(Cursor.name).where(Cursor.name.startswith(prefix, autoescape=True))
    )
    return sorted(n.removeprefix(prefix) for n in names)


def remember_ids(session: Session, prefix: str, deal_ids: Sequence[str], at: datetime) -> None:
    """Remember deal IDs for the next run (webhook while a run is in progress)."""
    rows = [
        {"name": f"{prefix}{i}"[:64], "value": at.isoformat(), "updated_at": at} for i in deal_ids
    ]
    upsert(session, Cursor.__table__, rows, ["name"])


def forget_ids(session: Session, prefix: str, deal_ids: Sequence[str]) -> None:
    """Drop remembered IDs once their deals are committed."""
    if deal_ids:
        session.execute(delete(Cursor).where(Cursor.name.in_([f"{prefix}{i}" for i in deal_ids])))


ATTRIBUTION_COLUMNS = ("deal_id", "model", "touchpoint_id", "weight", "revenue", "currency")


def replace_attributions(
    session: Session, deal_ids: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    """Recompute the deals' attribution rows: delete the old ones, insert the new.

    These are the bulk of a sync's writes (five models x every touch), so they go through the
    driver directly: COPY on PostgreSQL, executemany on SQLite.
    """
    from connector.storage.models import Attribution

    for start in range(0, len(deal_ids), CHUNK):
        chunk = list(deal_ids[start : start + CHUNK])
        # The model filter lets the (model, deal_id) index serve the delete.
        session.execute(
            delete(Attribution).where(Attribution.model.in_(MODELS), Attribution.deal_id.in_(chunk))
        )
    if not rows:
        return
    connection = session.connection()
    values = [tuple(r[c] for c in ATTRIBUTION_COLUMNS) for r in rows]
    names = ", ".join(ATTRIBUTION_COLUMNS)
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with (
            raw.cursor() as cursor,
            cursor.copy(  # type: ignore[union-attr]
                f"COPY attributions ({names}) FROM STDIN"
            ) as copy,
        ):
            for value in values:
                copy.write_row(value)
        return
    # SQLAlchemy stores Numeric as REAL on SQLite; do the same so both paths agree.
    floats = [(d, m, t, float(w), float(r), c) for d, m, t, w, r, c in values]
    connection.exec_driver_sql(
        f"INSERT INTO attributions ({names}) VALUES (?, ?, ?, ?, ?, ?)", floats
    )
