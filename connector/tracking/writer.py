"""Group commit for page views: request threads hand hits to one writer thread per process.

Each request still waits until its own hit is committed (nothing is acknowledged that is not
stored), but the hits that arrive while a batch is being written go into the next batch
together, so a busy process makes one transaction per batch instead of one per hit. If a batch
fails, its hits are retried one by one, so a single bad hit fails alone and no hit is ever
stored half-way.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy import Engine

from connector.tracking.collect import Hit, record_page_views

log = logging.getLogger(__name__)

MAX_BATCH = 256
WAIT_SECONDS = 30.0


class HitWriter:
    """The per-process writer thread (started on first use, i.e. after any fork)."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Hit, Future[int]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def write(self, hit: Hit, timeout: float = WAIT_SECONDS) -> int:
        """Store ``hit`` (batched with concurrent ones); its touchpoint ID, or the error."""
        self._ensure_thread()
        done: Future[int] = Future()
        self._queue.put((hit, done))
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
            self._write(batch)

    def _write(self, batch: list[tuple[Hit, Future[int]]]) -> None:
        try:
            ids = record_page_views(self.engine, [hit for hit, _ in batch])
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


class StoreFailed(RuntimeError):
    """The page view could not be stored (details are in the server log)."""


def _failure() -> StoreFailed:
    return StoreFailed("storing the page view failed")
