"""Request framing on a real gunicorn: 413 closes the connection, chunked bodies are capped."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from connector.storage.models import Touchpoint
from tests.foundation.live_server import read_response, serve

CAP = 4096
VIEW = {"visitor_id": "v-framing-000001", "url": "https://shop.example/p"}


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[tuple[str, int], str]]:
    """One server (1 worker, 2 threads, 4 KiB body cap) on its own SQLite file."""
    folder: Path = tmp_path_factory.mktemp("framing")
    url = f"sqlite:///{folder / 'closedloop.db'}"
    with serve(folder, url, workers=1, threads=2, max_body_bytes=CAP) as address:
        yield address, url


def _stored(url: str) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(Touchpoint))
    engine.dispose()
    return count or 0


def _collect_head(extra: str) -> bytes:
    return (
        "POST /collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"{extra}\r\n"
    ).encode()


def _chunked(body: bytes, size: int = 1000) -> bytes:
    out = b""
    for start in range(0, len(body), size):
        piece = body[start : start + size]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n\r\n"


def test_413_says_connection_close(server):
    """An over-cap body is refused with 413 and Connection: close, not a keep-alive it breaks."""
    address, _ = server
    with socket.create_connection(address) as sock:
        sock.sendall(_collect_head("Content-Length: 1000000\r\n") + b" " * 8192)
        status, headers, body = read_response(sock)
        assert status == 413
        assert headers["connection"].lower() == "close"
        assert json.loads(body)["error"] == "request_entity_too_large"


@pytest.mark.slow
def test_next_request_after_a_413_is_not_lost(server):
    """A client that reuses the connection only when told keep-alive loses no request."""
    address, url = server
    before = _stored(url)
    valid = json.dumps(VIEW).encode()
    lost = 0
    for _ in range(5):
        with socket.create_connection(address) as sock:
            sock.sendall(_collect_head("Content-Length: 200000\r\n") + b" " * 200000)
            status, headers, _ = read_response(sock)
            assert status == 413
            if headers["connection"].lower() == "close":
                continue  # the client opens a new connection, as told
            sock.sendall(_collect_head(f"Content-Length: {len(valid)}\r\n") + valid)
            try:
                assert read_response(sock)[0] == 204
            except (ConnectionError, OSError, AssertionError):
                lost += 1
    assert lost == 0
    assert _stored(url) == before


def test_chunked_body_over_the_cap_is_413(server):
    """A chunked body past the cap is refused whole, not cut at the cap and stored."""
    address, url = server
    before = _stored(url)
    body = json.dumps(VIEW).encode() + b" " * (CAP * 2)  # valid JSON if cut at the cap
    with socket.create_connection(address) as sock:
        sock.sendall(_collect_head("Transfer-Encoding: chunked\r\n") + _chunked(body))
        status, headers, _ = read_response(sock)
    assert status == 413
    assert headers["connection"].lower() == "close"
    assert _stored(url) == before


def test_chunked_body_under_the_cap_is_stored(server):
    """A chunked page view within the cap is stored like any other (204), keep-alive intact."""
    address, url = server
    before = _stored(url)
    body = json.dumps(VIEW).encode()
    with socket.create_connection(address) as sock:
        for _ in range(2):
            sock.sendall(_collect_head("Transfer-Encoding: chunked\r\n") + _chunked(body, 7))
            status, headers, _ = read_response(sock)
            assert status == 204
            assert headers["connection"].lower() == "keep-alive"
    assert _stored(url) == before + 2
