"""A real ``closedloop serve`` with two gunicorn workers and no ``dashboard.secret_key``."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml
from reports_conftest import PASSWORD, USERNAME

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path, db_url: str, password_hash: str):
    """The service on a free port: two workers, the README's dashboard lines, no key."""
    port = _free_port()
    config = tmp_path / "closedloop.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": db_url},
                "server": {"host": "127.0.0.1", "port": port, "workers": 2, "threads": 2},
                "schedule": {"enabled": False},
                "dashboard": {"username": USERNAME, "password_hash": password_hash},
            }
        )
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector.cli", "-c", str(config), "serve"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=5):
                    break
            except OSError:
                time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _browser():
    """A cookie-keeping client; every request opens a new connection (any worker may take it)."""
    return urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )


def _page(opener, url: str, data: dict | None = None) -> tuple[int, str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(url, data=body, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_logins_and_pages_work_on_every_worker(served):
    """Ten log-ins in a row succeed and every page load after them stays logged in.

    With a key per worker, each log-in had a one-in-two chance to fail ("Session expired")
    and each later page load to bounce to the login form.
    """
    for _ in range(10):
        browser = _browser()
        status, form = _page(browser, f"{served}/dashboard/")
        assert status == 200
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        status, page = _page(
            browser,
            f"{served}/dashboard/login",
            {"csrf": csrf, "username": USERNAME, "password": PASSWORD},
        )
        assert status == 200 and 'id="sources"' in page, page[:300]
    for _ in range(10):
        status, page = _page(browser, f"{served}/dashboard/")
        assert status == 200 and 'id="sources"' in page
