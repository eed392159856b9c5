"""Engine and session setup: SQLite tuned for a single box, PostgreSQL for scale-out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Execution option marking a connection's transactions as read-only (``held_sessions``).
READ_ONLY = "closedloop_read_only"


def make_engine(
    url: str,
    *,
    pool_size: int = 5,
    max_overflow: int | None = None,
    pool_timeout: float = 30.0,
    echo: bool = False,
) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys.

    A server pool holds ``pool_size`` connections and as many again in overflow unless
    ``max_overflow`` says otherwise; a checkout waits up to ``pool_timeout`` seconds.
    """
    if url.startswith("postgresql://"):
        # Users copy URLs from psql; SQLAlchemy would pick psycopg2, which we don't ship.
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs: dict[str, Any] = {
        "echo": echo,
        # Bound values are personal data (emails, phones): errors and echo show none of them.
        "hide_parameters": True,
        "future": True,
        "json_serializer": json_text,
        "json_deserializer": orjson.loads,
    }
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {
            "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
            "check_same_thread": False,
        }
    else:
        overflow = pool_size if max_overflow is None else max_overflow
        kwargs.update(
            pool_size=pool_size,
            max_overflow=overflow,
            pool_timeout=pool_timeout,
            pool_pre_ping=True,
        )
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _utc_sessions(engine)
    return engine


def json_text(value: Any) -> str:
    """JSON columns' text, by orjson: a sync encodes and decodes tens of thousands per page.

    Non-string keys become strings, as the standard library's encoder does.
    """
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _utc_sessions(engine: Engine) -> None:
    """Day boundaries in reports are UTC whatever the server's timezone setting is."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, open transactions, so BEGIN IMMEDIATE works.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: no lock-upgrade deadlocks between writers.
        # Sessions that only read (``held_sessions``) take no lock and run beside a writer.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@contextmanager
def held_sessions(engine: Engine, *, read_only: bool = False) -> Iterator[sessionmaker[Session]]:
    """Sessions on one connection held while the block runs, one transaction at a time.

    For a job that opens a transaction per page: no pool checkout, and no liveness ping with
    it, per transaction. ``read_only`` sessions may run while another connection writes: on
    SQLite they take no write lock (WAL gives them the last committed state); nothing may be
    written in them.
    """
    with engine.connect() as connection:
        if read_only:
            connection = connection.execution_options(**{READ_ONLY: True})
        yield sessionmaker(bind=connection, expire_on_commit=False)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


def ping(engine: Engine) -> None:
    """Raise if the database cannot answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
