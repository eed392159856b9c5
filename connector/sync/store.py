"""Bulk reads and writes that behave the same on SQLite and PostgreSQL.

A sync writes a few rows per deal (deal state, stage event, outbox rows, attributions) and
looks up a few more, a page of 200 deals at a time. Compiled multi-row INSERTs with RETURNING
cost more per row than everything else a sync does, so the writes go to the driver directly
(``executemany``, or COPY on PostgreSQL) with parameters bound by the columns' own types, and
lookups on PostgreSQL bind one array (``= ANY(...)``) instead of hundreds of parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Table,
    TypeDecorator,
    bindparam,
    delete,
    select,
)
from sqlalchemy.orm import Session, sessionmaker

from connector.storage.db import json_text
from connector.storage.models import Attribution, Conversion, Cursor, Deal, utcnow
from connector.sync.attributions import ATTRIBUTION_COLUMNS, AttributionRow
from connector.sync.lookups import any_of, chunks, is_postgres
from connector.sync.plan import ExistingRow

#: Rows as tuples in the order of the columns they are written to.
Rows = Sequence[Sequence[Any]]


def _write(
    session: Session, table: Table, columns: Sequence[str], rows: Rows, conflict: str
) -> None:
    """``INSERT ... <conflict>`` for many rows in one driver ``executemany``.

    Values are bound by the columns' own type processors, so they are stored exactly as the
    ORM would store them (UTC times, JSON text, SQLite's REAL for Numeric). (One statement
    over arrays of values is slower on PostgreSQL: psycopg formats arrays in Python.)
    """
    connection = session.connection()
    dialect = connection.dialect
    postgres = dialect.name == "postgresql"
    types = [table.c[c].type for c in columns]
    marks = ", ".join(
        ("%s::json" if isinstance(t, JSON) else "%s") if postgres else "?" for t in types
    )
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks}) {conflict}",
        _bound(rows, types, dialect),
    )


def _bound(rows: Rows, types: Sequence[Any], dialect: Any) -> list[tuple[Any, ...]]:
    """The rows with every value through its column's bind processor.

    Column by column: pages repeat values (one "now" for every row, one close date for many
    deals), so each distinct value goes through a column type of our own (``UTCDateTime``'s
    Python conversion, then the driver type's) once. The driver types' own processors are
    not memoised: SQLite's Decimal to float is compiled code, cheaper than a memo lookup
    (an attribution row has fourteen of them). JSON values are not hashable, and different
    every time anyway; JSON becomes its text (the engine's own serializer) on both
    databases, ready for a binary COPY.
    """
    procs = [
        json_text if isinstance(t, JSON) else t.dialect_impl(dialect).bind_processor(dialect)
        for t in types
    ]
    if not rows or not any(procs):
        return [tuple(r) for r in rows]
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True))
    for i, (process, kind) in enumerate(zip(procs, types, strict=True)):
        if process is None:
            continue
        if isinstance(kind, TypeDecorator):
            process = lru_cache(maxsize=None, typed=True)(process)
        columns[i] = list(map(process, columns[i]))
    return list(zip(*columns, strict=True))


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], keys: list[str]) -> None:
    """Insert rows, or update every given column of the row with the same key."""
    if rows:
        columns = list(rows[0])
        upsert_rows(session, table, columns, _tuples(rows, columns), keys)


def upsert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Rows, keys: list[str]
) -> None:
    """``upsert`` of rows given as tuples in ``columns`` order."""
    if not rows:
        return
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in keys)
    _write(
        session, table, columns, rows, f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
    )


def delete_keys(
    session: Session, table: Table, keys: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Delete the rows with these key values (tuples in ``keys`` order), in one statement."""
    if not rows:
        return
    names = [f"k_{k}" for k in keys]
    pairs = zip(keys, names, strict=True)
    stmt = delete(table).where(*(table.c[k] == bindparam(n) for k, n in pairs))
    session.connection().execute(stmt, [dict(zip(names, row, strict=True)) for row in rows])


def _tuples(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[tuple[Any, ...]]:
    getter = itemgetter(*columns)
    return [getter(r) for r in rows] if len(columns) > 1 else [(getter(r),) for r in rows]


def insert_new(
    session: Session, table: Table, columns: Sequence[str], rows: Rows, *, binary: bool = True
) -> None:
    """Insert rows whose keys the table cannot hold yet: COPY on PostgreSQL.

    For rows of deals new to the store, written under the sync's lease. Should one exist
    after all, the unique index fails the page's transaction rather than doubling a row.
    ``binary`` picks COPY's format (see ``_copy``).
    """
    if not rows:
        return
    connection = session.connection()
    params = _bound(rows, [table.c[c].type for c in columns], connection.dialect)
    if connection.dialect.name == "postgresql":
        _copy(connection, table, columns, params, binary=binary)
        return
    marks = ", ".join("?" * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", params
    )


def _copy(
    connection: Any,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    binary: bool = True,
) -> None:
    """PostgreSQL's COPY of driver-ready rows: the fastest way in.

    Binary by default, with every column's type given up front, so psycopg encodes each value
    without looking its type up (a third of the text format's work for a deal row). JSON
    travels as its text, which is what the json type's binary form is. Rows of many numeric
    columns go as text: psycopg builds numeric's binary form in Python, and the text form of
    a Decimal in C.
    """
    raw = connection.connection.driver_connection
    options = " (FORMAT BINARY)" if binary else ""
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN{options}") as copy,
    ):
        if binary:
            dialect = connection.dialect
            copy.set_types([_copy_type(table.c[c].type.dialect_impl(dialect)) for c in columns])
        for row in rows:
            copy.write_row(row)


def _copy_type(kind: Any) -> str:
    """The PostgreSQL type a binary COPY sends a column's values as."""
    while isinstance(kind, TypeDecorator):  # UTCDateTime and the like: what they store as
        kind = kind.impl_instance
    for sql_type, name in _COPY_TYPES:
        if isinstance(kind, sql_type):
            return name
    raise TypeError(f"no binary COPY type for {kind!r}")


_COPY_TYPES: tuple[tuple[type, str], ...] = (
    (JSON, "text"),
    (String, "text"),
    (Boolean, "bool"),
    (DateTime, "timestamptz"),
    (BigInteger, "int8"),
    (SmallInteger, "int2"),
    (Integer, "int4"),
    (Numeric, "numeric"),
)


def insert_ignore(
    session: Session, table: Table, columns: Sequence[str], rows: Rows, keys: list[str]
) -> None:
    """Insert rows whose key is new; the others are left alone."""
    if rows:
        _write(session, table, columns, rows, f"ON CONFLICT ({', '.join(keys)}) DO NOTHING")


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
    # The outbox state of a new row:
    "run_id",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
)
#: The columns a plan fills (``plan._row``); the rest is a new row's state.
PLANNED_COLUMNS = CONVERSION_COLUMNS[: CONVERSION_COLUMNS.index("run_id")]
OUTBOX_KEY = ("destination", "kind", "dedup_key")


def insert_conversions(
    session: Session,
    rows: Sequence[dict[str, Any]],
    run_id: int,
    existing: Mapping[str, Sequence[ExistingRow]],
) -> list[dict[str, Any]]:
    """Outbox rows, idempotent on (destination, kind, dedup_key); returns the ones new.

    ``existing`` holds every outbox row of the deals the rows were planned for that were
    stored before this page: a deal's outbox rows are only ever written in the transaction
    that stores the deal, so a deal new to the store has none, and no lookup is needed. The
    unique index stays the last word (SQLite's insert skips a duplicate; PostgreSQL's COPY
    would fail the page rather than double a conversion).
    """
    if not rows:
        return []
    known = {(r.destination, r.kind, r.dedup_key) for mine in existing.values() for r in mine}
    new: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in rows:
        key = (r["destination"], r["kind"], r["dedup_key"])
        if key not in known and key not in new:
            new[key] = r
    if not new:
        return []
    now = utcnow()
    state = (run_id, "pending", 0, now, now, now)  # run_id ... updated_at
    planned = itemgetter(*PLANNED_COLUMNS)
    values = [planned(r) + state for r in new.values()]
    table = Conversion.__table__
    if is_postgres(session):
        insert_new(session, table, CONVERSION_COLUMNS, values)
    else:
        insert_ignore(session, table, CONVERSION_COLUMNS, values, list(OUTBOX_KEY))
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


def replace_attributions(
    session: Session, deal_ids: Sequence[str], rows: Sequence[AttributionRow]
) -> None:
    """Recompute the deals' attribution rows: delete the old ones, insert the new.

    These are the bulk of a sync's writes (every credited touch of every deal read), so they
    go through the driver directly: COPY on PostgreSQL, executemany on SQLite.
    """
    postgres = is_postgres(session)
    for chunk in chunks(deal_ids, postgres):  # one array on PostgreSQL
        session.execute(delete(Attribution).where(any_of(Attribution.deal_id, chunk, postgres)))
    # Ten numeric columns: text COPY on PostgreSQL (see _copy); REAL on SQLite, as the ORM.
    insert_new(session, Attribution.__table__, ATTRIBUTION_COLUMNS, rows, binary=False)


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
