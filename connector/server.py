"""Production serving: gunicorn (gthread workers) for HTTP, the scheduler in its own process.

Each request's headers and body must arrive within ``server.read_timeout_seconds``; for
clients slower than that (or many at once), put a buffering reverse proxy in front.

The scheduler is not run inside gunicorn's master: forking a process that has scheduler
threads is unsafe. A separate process, stopped together with the server, avoids that. It is a
plain subprocess (settings on its stdin), not a ``multiprocessing`` child: gunicorn forks its
workers from the master, and every worker would inherit multiprocessing's bookkeeping of the
child and fail to join it at exit, with a traceback per worker on every stop.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from connector import readtimeout
from connector.config import Settings
from connector.logs import gunicorn_logger_class

log = logging.getLogger(__name__)


class DeadlineThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, with a deadline on reading each request.

    The deadline starts when a thread takes a connection and ends when the body guard has the
    body in memory (see :mod:`connector.readtimeout`), so ``server.threads`` slow clients can no
    longer hold every thread: each is cut off after ``server.read_timeout_seconds``.
    """

    def init_process(self) -> None:
        """Install the deadlines in this (forked) worker process, then serve."""
        readtimeout.install(self.app.settings.server.read_timeout_seconds)
        super().init_process()

    def handle(self, conn: Any) -> Any:
        """Serve one request of ``conn`` under a read deadline."""
        readtimeout.begin(conn.sock)
        try:
            return super().handle(conn)
        finally:
            readtimeout.end()


class _Gunicorn(BaseApplication):
    """Gunicorn driven from code, with the app built in each worker after fork."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from connector.app import create_app

        return create_app(self.settings, upgrade=False)


def gunicorn_options(settings: Settings) -> dict[str, Any]:
    """Gunicorn settings derived from ``server.*``."""
    return {
        "bind": f"{settings.server.host}:{settings.server.port}",
        "workers": settings.server.workers,
        "threads": settings.server.threads,
        "worker_class": DeadlineThreadWorker,
        "timeout": 60,
        "graceful_timeout": 30,
        "keepalive": 5,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": settings.logging.level.lower(),
        "logger_class": gunicorn_logger_class(),
        # No gunicornc control socket: its default path (~/.gunicorn/) is shared by every
        # installation of the same user, and closedloop does not use it.
        "control_socket_disable": True,
    }


def _scheduler_main(settings_json: str) -> None:
    """The scheduler process: runs until SIGTERM/SIGINT, then stops without a traceback."""
    from connector.config import Settings, secret_values
    from connector.logs import setup_logging
    from connector.runtime import Runtime
    from connector.scheduler import build_scheduler, exit_on_sigterm

    exit_on_sigterm()
    settings = Settings.model_validate_json(settings_json)
    setup_logging(settings.logging.level, settings.logging.format, secret_values(settings))
    runtime = Runtime.from_settings(settings, upgrade=False)
    scheduler = build_scheduler(runtime, blocking=True)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)  # the stop is logged once
    with contextlib.suppress(Exception):
        scheduler.shutdown(wait=False)
    runtime.close()


def _start_scheduler(settings: Settings) -> subprocess.Popen[bytes]:
    """The scheduler in its own interpreter; its settings (with secrets) go through a pipe."""
    child = subprocess.Popen(
        [sys.executable, "-m", "connector.server"], stdin=subprocess.PIPE, close_fds=True
    )
    assert child.stdin is not None
    child.stdin.write(_settings_json(settings).encode())
    child.stdin.close()
    log.info("scheduler process started (pid %s)", child.pid)
    return child


def _stop_scheduler(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(SCHEDULER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            log.warning("scheduler did not stop in %ss; killed", SCHEDULER_STOP_SECONDS)
            child.kill()
            child.wait()


SCHEDULER_STOP_SECONDS = 30


def serve_forever(settings: Settings, *, with_scheduler: bool = True) -> None:
    """Run HTTP in the foreground; the scheduler in a child process if asked."""
    master = os.getpid()
    child = _start_scheduler(settings) if with_scheduler else None
    try:
        _Gunicorn(settings, gunicorn_options(settings)).run()
    finally:
        # gunicorn's workers are forks of this process and leave through this frame too:
        # only the master owns the scheduler and reports the stop.
        if os.getpid() == master:
            if child is not None:
                _stop_scheduler(child)
            log.info("closedloop stopped")


def _settings_json(settings: Settings) -> str:
    """Settings with secrets in clear, for the child process only (never logged)."""
    import json

    from pydantic import SecretStr

    def unwrap(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {k: unwrap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unwrap(v) for v in value]
        return value

    dumped = {k: unwrap(v) for k, v in _dump(settings).items()}
    return json.dumps(dumped, default=str)


def _dump(model: Any) -> dict[str, Any]:
    from pydantic import BaseModel

    out: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = field.alias or name
        if isinstance(value, BaseModel):
            out[key] = _dump(value)
        else:
            out[key] = value
    return out


if __name__ == "__main__":
    _scheduler_main(sys.stdin.read())
