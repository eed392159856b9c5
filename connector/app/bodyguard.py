"""Read every request body whole, within the size cap and the read deadline, before any view.

Three defects had one root: the body was read late, partly, or not at all.

- A ``413`` was answered without reading the body, yet with ``Connection: keep-alive``; gunicorn
  then failed to drain the unread bytes and dropped the connection, losing the next request the
  client sent on it. Now an over-cap body is answered ``413`` and the connection is closed.
- A chunked body (no ``Content-Length``) over the cap was silently cut at the cap and processed.
  Now it is counted while it is read, and refused with ``413`` past the cap.
- A body trickled byte by byte held a worker thread for as long as the client liked. Now it is
  read here, under the request's read deadline (:mod:`connector.readtimeout`); one that does
  not arrive in time is answered ``408`` and the connection closed.

What the views see afterwards is an ordinary in-memory body with its ``Content-Length``, so the
``/collect`` fast path and Flask treat chunked and plain requests alike.

File uploads (paths registered in ``app.extensions["closedloop.uploads"]`` with their own cap,
such as the dashboard's CSV upload) are read the same way, under the same deadline, but into a
temporary file that stays in memory only up to ``SPOOL_BYTES``: a large file never sits in
memory whole.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from connector import readtimeout

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
CHUNK = 64 * 1024
#: An upload's bytes kept in memory before its temporary file goes to disk.
SPOOL_BYTES = 1024 * 1024
#: Where an app lists its upload paths: {path: largest body in bytes}.
UPLOADS = "closedloop.uploads"


class _TooLarge(Exception):
    pass


class BodyGuard:
    """WSGI middleware, outermost; see the module docstring."""

    def __init__(
        self, app: WSGIApp, max_body_bytes: int, uploads: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.uploads = dict(uploads or {})

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Buffer the body (or refuse it), end the read deadline, then call the app."""
        declared = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        length = int(declared) if declared.isascii() and declared.isdigit() else None
        if not chunked and not length:
            readtimeout.end()
            return self.app(environ, start_response)
        upload = self.uploads.get(environ.get("PATH_INFO", ""))
        cap = upload or self.max_body_bytes
        if length is not None and length > cap:
            readtimeout.end()
            return self._too_large(start_response, cap, upload is not None)
        if upload is not None:
            return self._upload(environ, start_response, length, upload)
        try:
            body = _read(environ["wsgi.input"], length, self.max_body_bytes)
        except _TooLarge:
            readtimeout.end()
            return self._too_large(start_response)
        in_time = readtimeout.end()
        if not in_time:
            return _refuse(
                start_response,
                "408 REQUEST TIMEOUT",
                "request_timeout",
                "the request body did not arrive in time",
            )
        if body is None:
            return _refuse(
                start_response,
                "400 BAD REQUEST",
                "incomplete_body",
                "the request body ended before its declared length",
            )
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _upload(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        length: int | None,
        cap: int,
    ) -> Any:
        """Read an upload into a spooled temporary file, closed once the app has answered."""
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        try:
            complete = _copy(environ["wsgi.input"], spool, length, cap)
        except _TooLarge:
            spool.close()
            readtimeout.end()
            return self._too_large(start_response, cap, True)
        in_time = readtimeout.end()
        if not in_time or not complete:
            spool.close()
            if not in_time:
                return _refuse(
                    start_response,
                    "408 REQUEST TIMEOUT",
                    "request_timeout",
                    "the upload did not arrive within server.read_timeout_seconds",
                )
            return _refuse(
                start_response,
                "400 BAD REQUEST",
                "incomplete_body",
                "the request body ended before its declared length",
            )
        size = spool.tell()
        spool.seek(0)
        environ["wsgi.input"] = spool
        environ["CONTENT_LENGTH"] = str(size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        try:
            # Flask has read the form (its files copied out) by the time the view returns.
            return self.app(environ, start_response)
        finally:
            spool.close()

    def _too_large(
        self, start_response: Callable[..., Any], cap: int | None = None, upload: bool = False
    ) -> list[bytes]:
        key = "dashboard.max_upload_bytes" if upload else "server.max_body_bytes"
        return _refuse(
            start_response,
            "413 REQUEST ENTITY TOO LARGE",
            "request_entity_too_large",
            f"the body is larger than {key} ({cap or self.max_body_bytes} bytes)",
        )


def _read(stream: Any, length: int | None, cap: int) -> bytes | None:
    """``length`` bytes (or, chunked, all of them up to ``cap``); None if the body ended early."""
    parts: list[bytes] = []
    total = 0
    want = length if length is not None else cap + 1
    while total < want:
        try:
            data = stream.read(min(CHUNK, want - total))
        except (OSError, ValueError):  # the client went away or the deadline shut the socket
            return None
        if not data:
            break
        parts.append(data)
        total += len(data)
        if length is None and total > cap:
            raise _TooLarge
    if length is not None and total < length:
        return None
    return b"".join(parts)


def _copy(stream: Any, out: Any, length: int | None, cap: int) -> bool:
    """Copy the body into ``out`` as :func:`_read` reads it; False if it ended early."""
    total = 0
    want = length if length is not None else cap + 1
    while total < want:
        try:
            data = stream.read(min(CHUNK, want - total))
        except (OSError, ValueError):
            return False
        if not data:
            break
        out.write(data)
        total += len(data)
        if length is None and total > cap:
            raise _TooLarge
    return length is None or total >= length


def _refuse(
    start_response: Callable[..., Any], status: str, error: str, detail: str
) -> list[bytes]:
    """A JSON error after which the connection is closed (its unread bytes are unknown)."""
    payload = json.dumps({"error": error, "detail": detail}).encode() + b"\n"
    _close_connection(start_response)
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


def _close_connection(start_response: Callable[..., Any]) -> None:
    """Ask the server to end the connection after this answer.

    WSGI gives an application no way to say so (``Connection`` is a hop-by-hop header that
    servers drop); gunicorn's ``start_response`` is a method of its response object, whose
    ``force_close`` makes it answer ``Connection: close`` and close the socket afterwards.
    """
    force_close = getattr(getattr(start_response, "__self__", None), "force_close", None)
    if callable(force_close):
        force_close()
