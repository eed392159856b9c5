"""A threaded local HTTP server for an emulator, with fault injection in front of its app."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from platforms.sandbox_kit.faults import Fault, FaultPlan

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ConnectionDropped(Exception):
    """Raised after the emulator closed the client's socket on purpose."""


class _QuietHandler(WSGIRequestHandler):
    """No access log lines; HTTP/1.1 so clients can keep connections alive."""

    protocol_version = "HTTP/1.1"

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_error(self, *args: Any) -> None:
        pass


class HttpEmulator:
    """Serve a WSGI app on 127.0.0.1:<free port> in a daemon thread.

    Subclasses (or callers) provide ``app``; faults from ``faults`` are applied before it, and
    ``rate_limited`` answers are produced by ``rate_limit_response`` (platform-specific shape).
    """

    name = "emulator"

    def __init__(self, faults: FaultPlan | None = None, host: str = "127.0.0.1") -> None:
        self.faults = faults or FaultPlan.none()
        self.host = host
        self.requests = 0
        self._count_lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- to override -------------------------------------------------------------------------
    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The platform's WSGI application."""
        raise NotImplementedError

    def fault_response(self, fault: Fault) -> Response:
        """The platform's answer for a rate limit or server error (override for its shape)."""
        if fault is Fault.RATE_LIMIT:
            return Response(
                '{"error": "rate limited"}',
                status=429,
                mimetype="application/json",
                headers={"Retry-After": str(int(self.faults.retry_after_seconds))},
            )
        status = 503 if fault is Fault.UNAVAILABLE else 500
        return Response('{"error": "server error"}', status=status, mimetype="application/json")

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:53211``."""
        if self._server is None:
            raise RuntimeError(f"{self.name} sandbox is not started")
        return f"http://{self.host}:{self._server.server_port}"

    @property
    def port(self) -> int:
        """The bound port."""
        assert self._server is not None
        return self._server.server_port

    def start(self) -> HttpEmulator:
        """Bind a free port and serve in the background."""
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server(
            self.host, 0, self._wsgi, threaded=True, request_handler=_QuietHandler
        )
        self._server.daemon_threads = True
        # A short poll interval makes stop() quick (tests start and stop many emulators).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> HttpEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- fault layer ---------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._count_lock:
            self.requests += 1
        if self.faults.latency_seconds:
            time.sleep(self.faults.latency_seconds)
        fault = self.faults.draw()
        if fault in (Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.UNAVAILABLE):
            return self.fault_response(fault)(environ, start_response)
        if fault is Fault.SLOW:
            time.sleep(self.faults.slow_seconds)
        elif fault is Fault.TIMEOUT:
            time.sleep(self.faults.timeout_seconds)
            _drop(environ)
        elif fault is Fault.DROP:
            Request(environ).get_data()
            _drop(environ)
        elif fault is Fault.LOST_RESPONSE:
            # The platform does the work, then the answer never arrives.
            body = b"".join(self.app(environ, lambda *a, **k: None))
            del body
            _drop(environ)
        return self.app(environ, start_response)


def _drop(environ: dict[str, Any]) -> None:
    sock: socket.socket | None = environ.get("werkzeug.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
    raise ConnectionDropped("connection dropped by the sandbox")
