"""``closedloop backfill`` in a real terminal: the progress bar and the log lines stay apart."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from datetime import UTC, datetime, timedelta

import pyte
import yaml

from connector.runtime import Runtime
from tests.sync.conftest import Seeder, won_deal

COLUMNS, ROWS = 100, 60


def run_in_terminal(args: list[str], timeout: float = 180, expect_code: int = 0) -> bytes:
    """Run a command with a pseudo-terminal (COLUMNS x ROWS) as stdin, stdout and stderr."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
    env = {**os.environ, "TERM": "xterm", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    proc = subprocess.Popen(
        args, stdin=terminal, stdout=terminal, stderr=terminal, env=env, start_new_session=True
    )
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == expect_code, output.decode(errors="replace")
    return bytes(output)


def screen_of(output: bytes) -> list[str]:
    """The lines a VT100-compatible terminal shows after ``output`` (pyte emulates one)."""
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.ByteStream(screen)
    stream.feed(output)
    return [line.rstrip() for line in screen.display if line.strip()]


def test_progress_bar_renders_cleanly_in_a_terminal(
    tmp_path, hubspot, make_settings, sync_config, db_url
):
    """Under a pty the bar ends as one full line of its own; no log line is glued to it."""
    now = datetime.now(UTC)
    config = {
        **sync_config,
        "database": {"url": db_url},
        "schedule": {"enabled": False},
        "logging": {"level": "INFO"},
    }
    rt = Runtime.from_settings(make_settings(config))
    try:
        seeder = Seeder(rt)
        contact = hubspot.add_contact({"email": "ann@example.com"})
        vid = seeder.visitor(seeder.person("ann@example.com"), ga_client_id="1.2")
        seeder.touch(vid, now - timedelta(days=25), click=("gclid", "G-1"))
    finally:
        rt.close()
    for days in range(1, 6):
        won_deal(hubspot, [contact], close=now - timedelta(days=days))
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    raw = run_in_terminal(
        [
            sys.executable,
            "-m",
            "connector.cli",
            "-c",
            str(path),
            "backfill",
            "--since",
            "2026-01-01",
        ],
        # Only HubSpot is a sandbox here: every send fails, so the run is partial (exit 1).
        expect_code=1,
    )
    lines = screen_of(raw)
    shown = "\n".join(lines)
    bars = [line for line in lines if BAR_CHARS.search(line)]
    assert all(BAR.fullmatch(line) for line in bars), shown  # nothing glued to a bar
    assert [line.split()[0] for line in bars] == ["deals", "contacts"], shown  # one per step
    assert bars[0].endswith(" 5/5"), shown  # the deals bar keeps its own final count
    assert any(line.endswith("INFO connector.runs: run 1: sync started") for line in lines), shown
    assert "run 1: partial" in lines, shown


BAR_CHARS = re.compile(r"\[[#-]{3,}")
BAR = re.compile(r"(deals|contacts)  \[[#-]+\]  \d+/\d+")
