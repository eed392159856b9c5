"""Group commit for page views: request threads hand hits to one writer thread per process.

Each request still waits until its own hit is committed (nothing is acknowledged that is not
stored), but the hits that arrive while a batch is being written go into the next batch
together, so a busy process makes one transaction per batch instead of one per hit. If a batch
fails, its hits are retried one by one, so a single bad hit fails alone and no hit is ever
stored half-way.

The request thread does the hit's database-free work (URL parsing, channel rules) itself, so
the writer, which every hit of the process goes through, only runs the statements, on a
connection it keeps (no pool checkout and liveness ping per batch; after any error it takes a
fresh one).

On a SQLite file, the writers of several gunicorn workers take turns through a file lock
(``<database>-hits.lock``) before asking for SQLite's write lock. A writer that finds SQLite's
lock taken would otherwise back off in sleeps of 1, 2, 5, 10... ms (SQLite's busy handler),
which is what made tail latency with two workers; blocked on the file lock it wakes as soon as
the other worker commits, with a bigger batch waiting.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import IO, Any

from sqlalchemy import Connection, Engine

from connector.tracking.collect import Hit, prepare, store_prepared

log = logging.getLogger(__name__)

MAX_BATCH = 256
WAIT_SECONDS = 30.0

_Item = tuple[dict[str, Any], "Future[int]"]


class HitWriter:
    """The per-process writer thread (started on first use, i.e. after any fork)."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._lock_path = _sqlite_lock_path(engine)
        self._lock_file: IO[bytes] | None = None
        self._lock_pid = 0
        self._conn: Connection | None = None

    def write(self, hit: Hit, timeout: float = WAIT_SECONDS) -> int:
        """Store ``hit`` (batched with concurrent ones); its touchpoint ID, or the error."""
        try:
            prepared = prepare(hit)
        except Exception:
            log.exception("preparing a page view failed")
            raise _failure() from None
        self._ensure_thread()
        done: Future[int] = Future()
        self._queue.put((prepared, done))
        return done.result(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="closedloop-hit-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self._turn():
                    self._write(batch)
            except Exception:  # the lock file itself failed: fail the batch, keep the thread
                log.exception("storing page views failed")
                for _, done in batch:
                    if not done.done():
                        done.set_exception(_failure())

    def _write(self, batch: list[_Item]) -> None:
        try:
            ids = self._store([prepared for prepared, _ in batch])
        except Exception:
            if len(batch) == 1:
                log.exception("storing a page view failed")
                batch[0][1].set_exception(_failure())
                return
            for item in batch:  # find the bad hit; the others still get stored
                self._write([item])
            return
        for (_, done), touchpoint_id in zip(batch, ids, strict=True):
            done.set_result(touchpoint_id)

    def _store(self, prepared: list[dict[str, Any]]) -> list[int]:
        """One transaction on the writer's own connection, kept between batches.

        On PostgreSQL the connection is in autocommit mode: a batch's writes are one statement,
        which is all or nothing by itself, and its read needs no transaction around it (under
        read committed, a transaction would not keep another process's rows out of it either).
        """
        if self._conn is None:
            self._conn = self.engine.connect()
            if self._conn.dialect.name == "postgresql":
                # A batch is one statement there (atomic on its own): no BEGIN/COMMIT trips.
                self._conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            return store_prepared(self._conn, prepared)
        except Exception:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):  # a broken connection is dropped by the pool
                conn.close()
            raise

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """This process's turn to write (SQLite file only; other databases lock rows)."""
        if self._lock_path is None:
            yield
            return
        if self._lock_file is None or self._lock_pid != os.getpid():
            # Opened per process: a descriptor inherited across fork would share the lock.
            self._lock_file = open(self._lock_path, "ab")  # noqa: SIM115 - kept for the process
            self._lock_pid = os.getpid()
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)


def _sqlite_lock_path(engine: Engine) -> str | None:
    """``<database>-hits.lock`` for a SQLite file, None otherwise."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):  # URI filenames: leave them to SQLite's own locking
        return None
    return os.path.abspath(database) + "-hits.lock"


class StoreFailed(RuntimeError):
    """The page view could not be stored (details are in the server log)."""


def _failure() -> StoreFailed:
    return StoreFailed("storing the page view failed")
