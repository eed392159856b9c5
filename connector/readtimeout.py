"""A deadline on reading each request, so slow clients cannot hold every worker thread.

gunicorn's threaded workers read a request's headers (and the application its body) with
blocking socket reads and no overall time limit: a client that trickles one byte a second keeps
a thread for as long as it likes, and about as many such clients as there are threads stop the
whole service, ``/collect`` included. A per-read socket timeout would not help (each byte
arrives in time); what is bounded here is the whole read.

The worker starts a deadline when it takes a connection (:func:`begin`); the body guard ends it
once the body is in memory (:func:`end`). A watchdog thread per process shuts the read side of
any socket whose deadline passed: the blocked read returns end-of-file, gunicorn drops a
request whose headers never finished, and the body guard answers 408 to one whose body did not.
Outside gunicorn (tests, the Flask client) nothing is registered and both calls do nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time

log = logging.getLogger(__name__)

TICK_SECONDS = 0.25


class ReadDeadlines:
    """Deadlines keyed by the thread reading the request (one request per thread at a time)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._open: dict[int, tuple[socket.socket, float]] = {}
        self._expired: set[int] = set()
        self._watchdog: threading.Thread | None = None
        self._pid = 0

    def begin(self, sock: socket.socket) -> None:
        """This thread starts reading a request from ``sock``."""
        ident = threading.get_ident()
        with self._lock:
            self._open[ident] = (sock, time.monotonic() + self.seconds)
            self._expired.discard(ident)
            self._ensure_watchdog()

    def end(self) -> bool:
        """This thread has read its request; False if the deadline had already passed."""
        ident = threading.get_ident()
        with self._lock:
            self._open.pop(ident, None)
            if ident in self._expired:
                self._expired.discard(ident)
                return False
            return True

    def _ensure_watchdog(self) -> None:
        if self._watchdog is not None and self._watchdog.is_alive() and self._pid == os.getpid():
            return
        self._pid = os.getpid()  # started after fork, in each worker process
        self._watchdog = threading.Thread(
            target=self._watch, name="closedloop-read-deadline", daemon=True
        )
        self._watchdog.start()

    def _watch(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            now = time.monotonic()
            with self._lock:
                late = [(i, s) for i, (s, due) in self._open.items() if due <= now]
                for ident, sock in late:
                    del self._open[ident]
                    self._expired.add(ident)
                    with contextlib.suppress(OSError):  # already closed by the client
                        sock.shutdown(socket.SHUT_RD)
            if late:
                log.info("closed %d request(s) not read within %.0f s", len(late), self.seconds)


_deadlines: ReadDeadlines | None = None


def install(seconds: float) -> ReadDeadlines:
    """Turn deadlines on for this process (the gunicorn worker does, before serving)."""
    global _deadlines
    _deadlines = ReadDeadlines(seconds)
    return _deadlines


def begin(sock: socket.socket) -> None:
    """Start this thread's read deadline on ``sock`` (no-op unless installed)."""
    if _deadlines is not None:
        _deadlines.begin(sock)


def end() -> bool:
    """End this thread's read deadline; False if it had passed (the body may be cut short)."""
    return _deadlines.end() if _deadlines is not None else True
