"""Slow clients (headers or body trickled) cannot hold every worker thread: /collect answers."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from tests.foundation.live_server import read_response, serve

THREADS, READ_TIMEOUT, SLOW_CLIENTS = 3, 1.5, 9
VIEW = {"visitor_id": "v-slow-000000001", "url": "https://shop.example/p"}


def _trickle(address: tuple[str, int], head: bytes, tail: bytes, stop: threading.Event, out):
    """Send ``head`` at once, then ``tail`` one byte every 0.2 s until stopped or cut off."""
    try:
        with socket.create_connection(address) as sock:
            sock.sendall(head)
            for byte in tail:
                if stop.wait(0.2):
                    return
                sock.sendall(bytes([byte]))
            out.append("finished")  # never: the tail outlasts the test
    except OSError:
        out.append("cut off")


@pytest.mark.slow
def test_collect_answers_while_slow_clients_trickle(tmp_path, db_url):
    """With 3x as many trickling clients as threads, a page view is stored within a bound."""
    stop = threading.Event()
    results: list[str] = []
    with serve(
        tmp_path, db_url, workers=1, threads=THREADS, read_timeout_seconds=READ_TIMEOUT
    ) as address:
        slow_headers = (b"POST /collect HTTP/1.1\r\n", b"Host: localhost\r\nX-Pad: " + b"a" * 500)
        slow_body = (
            b"POST /collect HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 500\r\n\r\n",
            b" " * 500,
        )
        clients = [
            threading.Thread(
                target=_trickle,
                args=(address, *(slow_headers if i % 2 else slow_body), stop, results),
                daemon=True,
            )
            for i in range(SLOW_CLIENTS)
        ]
        for client in clients:
            client.start()
        time.sleep(0.5)  # every thread is now reading a slow request
        body = json.dumps(VIEW).encode()
        started = time.monotonic()
        try:
            with socket.create_connection(address) as sock:
                sock.sendall(
                    b"POST /collect HTTP/1.1\r\nHost: localhost\r\n"
                    b"Content-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                status = read_response(sock, timeout=20)[0]
        finally:
            elapsed = time.monotonic() - started
            time.sleep(1.0)  # a client notices it was cut off at its next byte or two
            stop.set()
            for client in clients:
                client.join(5)
    assert status == 204
    # Slow requests are cut after READ_TIMEOUT, THREADS at a time, ahead of ours in the queue.
    assert elapsed < (SLOW_CLIENTS / THREADS) * READ_TIMEOUT + 5, elapsed
    assert results.count("cut off") == SLOW_CLIENTS
