"""The scheduler's jobs follow the config; `closedloop serve` really serves and schedules."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from connector.config import parse_config
from connector.runtime import Runtime
from connector.scheduler import build_scheduler, last_heartbeat


def _jobs(runtime: Runtime) -> dict:
    scheduler = build_scheduler(runtime)
    return {job.id: job for job in scheduler.get_jobs()}


def test_interval_schedule(make_settings):
    """interval_minutes becomes an interval trigger for the sync job, plus a heartbeat."""
    rt = Runtime.from_settings(make_settings({"schedule": {"interval_minutes": 7}}))
    jobs = _jobs(rt)
    rt.close()
    assert isinstance(jobs["sync"].trigger, IntervalTrigger)
    assert jobs["sync"].trigger.interval.total_seconds() == 7 * 60
    assert "heartbeat" in jobs


def test_cron_schedule(make_settings):
    """A cron expression becomes a cron trigger in the configured timezone."""
    settings = make_settings(
        {"schedule": {"cron": "*/20 8-18 * * 1-5", "timezone": "Europe/London"}}
    )
    rt = Runtime.from_settings(settings)
    jobs = _jobs(rt)
    rt.close()
    assert isinstance(jobs["sync"].trigger, CronTrigger)
    assert str(jobs["sync"].trigger.timezone) == "Europe/London"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.slow
def test_serve_runs_gunicorn_and_scheduler(tmp_path: Path, db_url: str):
    """`closedloop serve` answers /healthz, becomes ready once its scheduler beats, and stops.

    A SIGTERM (to the process group, as systemd sends it) is a clean stop: exit code 0, no
    traceback, no "Worker exited with code", one line logged; no control socket in ~/.gunicorn.
    """
    port = _free_port()
    config = tmp_path / "closedloop.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database": {"url": db_url},
                "server": {"host": "127.0.0.1", "port": port, "workers": 2, "threads": 2},
                "schedule": {"interval_minutes": 60},
            }
        )
    )
    home = tmp_path / "home"
    home.mkdir()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "-c", str(config), "serve"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "HOME": str(home)},
        )
    stopped = False
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = _get(f"{base}/readyz")
                if ready[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert ready is not None and ready[0] == 200, ready
        assert _get(f"{base}/healthz") == (200, {"status": "ok"})
        rt = Runtime.from_settings(parse_config({"database": {"url": db_url}}), upgrade=False)
        assert last_heartbeat(rt) is not None
        rt.close()
        time.sleep(1)  # let the scheduler's and workers' start-up lines land first
        before_stop = log_path.read_text()
        os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=90)
        stopped = True
    finally:
        if not stopped:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    output = log_path.read_text()
    assert code == 0, output
    assert "Traceback" not in output and "exited with code" not in output, output
    stop_lines = [line for line in output[len(before_stop) :].splitlines() if line.strip()]
    assert len(stop_lines) == 1 and "closedloop stopped" in stop_lines[0], output
    assert not (home / ".gunicorn").exists()


@pytest.mark.slow
def test_worker_stops_cleanly_on_sigterm(tmp_path: Path, db_url: str):
    """`closedloop worker` treats SIGTERM like Ctrl-C: exit code 0, no traceback."""
    config = tmp_path / "closedloop.yaml"
    config.write_text(
        yaml.safe_dump({"database": {"url": db_url}, "schedule": {"interval_minutes": 60}})
    )
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector.cli", "-c", str(config), "worker"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    rt = Runtime.from_settings(parse_config({"database": {"url": db_url}}), upgrade=False)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and last_heartbeat_or_none(rt) is None:
            time.sleep(0.2)
        assert last_heartbeat_or_none(rt) is not None, log_path.read_text()
        os.kill(proc.pid, signal.SIGTERM)
        code = proc.wait(timeout=60)
    finally:
        rt.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    output = log_path.read_text()
    assert code == 0, output
    assert "Traceback" not in output, output


def last_heartbeat_or_none(runtime: Runtime):
    """The scheduler's last beat, or None while its tables do not exist yet."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        return last_heartbeat(runtime)
    except (OperationalError, ProgrammingError):
        return None
