"""``column IN (...)`` lookups that stay cheap on both databases, for pages of deals.

On SQLite an IN list is chunked under the bound-parameter limit. On PostgreSQL the values go in
one array parameter (``= ANY(...)``): psycopg parses every placeholder of a query client-side
and prepares only queries it has seen before, and an IN list of another length per page defeats
both; the array keeps the query text the same for every page.

Hot lookups can go further and skip SQLAlchemy's compiler altogether: ``in_list`` and
``list_param`` give fixed statement text with the whole list in one parameter on both
databases (a JSON array read by ``json_each`` on SQLite), for ``exec_driver_sql``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

#: Values per IN list on SQLite (well under its bound-parameter limit).
SQLITE_CHUNK = 500


def is_postgres(session: Session) -> bool:
    """Whether the session's database is PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def any_of(column: Any, values: Iterable[Any], postgres: bool) -> Any:
    """``column IN values``: one array parameter on PostgreSQL, a plain IN list elsewhere."""
    items = sorted(set(values))
    if postgres:
        return column == any_(bindparam(None, items, type_=ARRAY(column.type)))
    return column.in_(items)


def index_lookups_for_reads(session: Session) -> None:
    """On PostgreSQL, have this read transaction's lookups probe their indexes.

    These lookups fetch a page's worth of keys from tables that can hold millions of rows, so
    an index probe is always the right plan. PostgreSQL cannot always tell: tables filled
    during the sync itself (deals, the outbox) have no statistics yet, and it then estimates
    that an ``= ANY(...)`` of a few hundred keys matches the whole table and reads all of it,
    page after page, making a large backfill quadratic. Generic plans of prepared statements
    (psycopg prepares a query it has run five times) go the same way. So plans are made for
    the actual arrays and a sequential scan is the last resort. The settings are local to the
    transaction (``set_config(..., true)``) and end with it: the sync's writes run in
    transactions of their own, with the defaults. One round trip.
    """
    if is_postgres(session):
        session.connection().exec_driver_sql(_PLAN_FOR_READS)


_PLAN_FOR_READS = (
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('enable_seqscan', 'off', true)"
)


def chunks(values: Iterable[Any], postgres: bool) -> Iterator[list[Any]]:
    """The distinct values in sorted order: all at once on PostgreSQL, in chunks on SQLite."""
    items = sorted(set(values))
    size = len(items) if postgres else SQLITE_CHUNK
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + size]


def rows_for(
    session: Session, values: Iterable[Any], statement: Callable[[list[Any], bool], Any]
) -> list[Any]:
    """Rows of ``statement(chunk, postgres)`` over every chunk of ``values``.

    Executed on the session's connection (Core): these are plain column tuples, and the ORM's
    result machinery would cost more than the query itself.
    """
    postgres = is_postgres(session)
    connection = session.connection()
    out: list[Any] = []
    for chunk in chunks(values, postgres):
        out.extend(connection.execute(statement(chunk, postgres)).all())
    return out


def placeholder(postgres: bool) -> str:
    """The driver's positional parameter marker, for statements run with ``exec_driver_sql``."""
    return "%s" if postgres else "?"


def in_list(column: str, postgres: bool, sql_type: str = "text") -> str:
    """SQL for ``column`` in the one-parameter list of ``list_param``, whatever its length.

    The text never changes, so neither SQLAlchemy nor the driver compiles it again per page,
    and both databases still probe the column's index once per value (``sql_type`` names the
    array's element type on PostgreSQL, matching the column's so the index applies). The array
    goes in binary (``%b``): psycopg's text form runs a quoting regex on every element.
    """
    if postgres:
        return f"{column} = ANY(%b::{sql_type}[])"
    return f"{column} IN (SELECT value FROM json_each(?))"


def list_param(values: Iterable[Any], postgres: bool) -> Any:
    """The distinct values as ``in_list``'s parameter: an array, or a JSON array on SQLite.

    Unsorted: both databases sort the keys themselves before probing the index.
    """
    items = list(set(values))
    return items if postgres else json.dumps(items)
