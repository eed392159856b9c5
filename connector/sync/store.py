"""Bulk reads and writes that behave the same on SQLite and PostgreSQL.

A sync writes a few rows per deal (deal state, stage event, outbox rows, attributions) and
looks up a few more, a page of 200 deals at a time. Compiled multi-row INSERTs with RETURNING
cost more per row than everything else a sync does, so the writes go to the driver directly
(``executemany``, or COPY on PostgreSQL) with parameters bound by the columns' own types, and
lookups on PostgreSQL bind one array (``= ANY(...)``) instead of hundreds of parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table, delete, select
from sqlalchemy.orm import Session, sessionmaker

from connector.attribution import MODELS
from connector.storage.models import Conversion, Cursor, Deal, utcnow
from connector.sync.lookups import any_of, chunks, index_lookups, is_postgres, rows_for
from connector.sync.plan import ExistingRow


def _write(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    conflict: str,
) -> None:
    """``INSERT ... <conflict>`` for many rows in one driver ``executemany``.

    Values are bound by the columns' own type processors, so they are stored exactly as the
    ORM would store them (UTC times, JSON text, SQLite's REAL for Numeric).
    """
    connection = session.connection()
    dialect = connection.dialect
    postgres = dialect.name == "postgresql"
    types = [table.c[c].type for c in columns]
    procs = [t.dialect_impl(dialect).bind_processor(dialect) for t in types]
    marks = ", ".join(
        ("%s::json" if isinstance(t, JSON) else "%s") if postgres else "?" for t in types
    )
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) {conflict}"
    # Only the columns with a processor are touched per row; pages repeat values (one "now"
    # for every row, one close date for many deals), so each distinct value is bound once.
    # JSON values are not hashable, and different every time anyway.
    processed = [
        (i, process, None if isinstance(t, JSON) else {})
        for i, (process, t) in enumerate(zip(procs, types, strict=True))
        if process is not None
    ]
    getter = itemgetter(*columns)
    params: list[Any] = []
    for row in rows:
        values = list(getter(row)) if len(columns) > 1 else [getter(row)]
        for i, process, memo in processed:
            value = values[i]
            if memo is None:
                values[i] = process(value)
            else:
                try:
                    values[i] = memo[value]
                except KeyError:
                    values[i] = memo.setdefault(value, process(value))
        params.append(tuple(values))
    connection.exec_driver_sql(sql, params)


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, or update every given column of the row with the same key."""
    if not rows:
        return
    columns = list(rows[0])
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    _write(
        session, table, columns, rows, f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def insert_ignore(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]
) -> None:
    """Insert rows whose key is new; the others are left alone."""
    if rows:
        _write(session, table, list(rows[0]), rows, f"ON CONFLICT ({', '.join(keys)}) DO NOTHING")


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
OUTBOX_KEY = ("destination", "kind", "dedup_key")


def insert_conversions(
    session: Session, rows: Sequence[dict[str, Any]], run_id: int
) -> list[dict[str, Any]]:
    """Outbox rows, idempotent on (destination, kind, dedup_key). Returns the rows inserted.

    The sync holds the lease and is the only writer of new outbox rows, so the keys not found
    beforehand are exactly the rows this call adds; the unique index stays the last word
    (SQLite's insert ignores a duplicate, PostgreSQL's COPY would fail the page's transaction).
    """
    if not rows:
        return []
    postgres = is_postgres(session)

    def known(deal_ids: list[str], pg: bool) -> Any:
        # By deal (ix_conversions_deal): a handful of rows per deal, whatever the outbox's size.
        # Keys are derived from the deal, so no other deal's row can hold one of them.
        return select(Conversion.destination, Conversion.kind, Conversion.dedup_key).where(
            any_of(Conversion.deal_id, deal_ids, pg)
        )

    with index_lookups(session):
        existing = {tuple(r) for r in rows_for(session, {r["deal_id"] for r in rows}, known)}
    now = utcnow()
    new: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["destination"], r["kind"], r["dedup_key"])
        if key not in existing and key not in new:
            new[key] = {
                **r,
                "run_id": run_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
    if not new:
        return []
    if not postgres:
        insert_ignore(session, Conversion.__table__, list(new.values()), list(OUTBOX_KEY))
        return list(new.values())
    raw = session.connection().connection.driver_connection
    names = ", ".join(CONVERSION_COLUMNS)
    with (
        raw.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY conversions ({names}) FROM STDIN") as copy,
    ):
        for r in new.values():
            copy.write_row(
                [json.dumps(r[c]) if c in _JSON_COLUMNS else r[c] for c in CONVERSION_COLUMNS]
            )
    return list(new.values())


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
    ).where(any_of(c.deal_id, deal_ids, is_postgres(session)))
    for row in session.connection().execute(stmt):
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
    ).where(any_of(d.id, deal_ids, is_postgres(session)))
    return {row[0]: row for row in session.connection().execute(stmt)}


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

    postgres = is_postgres(session)
    for chunk in chunks(deal_ids, postgres):  # one array on PostgreSQL
        # The model filter lets the (model, deal_id) index serve the delete.
        session.execute(
            delete(Attribution).where(
                Attribution.model.in_(MODELS), any_of(Attribution.deal_id, chunk, postgres)
            )
        )
    if not rows:
        return
    connection = session.connection()
    values = list(map(itemgetter(*ATTRIBUTION_COLUMNS), rows))
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


@contextmanager
def page_transaction(sessions: sessionmaker[Session], *, dry_run: bool) -> Iterator[Session]:
    """One page's transaction: committed at the end, rolled back on any error or in a dry run.

    A page is the unit a crashed run resumes from, so it commits whole or not at all.
    """
    session = sessions()
    try:
        session.begin()
        yield session
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
