"""Production serving: gunicorn (gthread workers) for HTTP, the scheduler in its own process.

Each request's headers and body must arrive within ``server.read_timeout_seconds``; for
clients slower than that (or many at once), put a buffering reverse proxy in front.

The scheduler is not run inside gunicorn's master: forking a process that has scheduler
threads is unsafe. A separate process, stopped together with the server, avoids that.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.workers.gthread import ThreadWorker

from connector import readtimeout
from connector.config import Settings

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
    }


def _scheduler_main(settings_json: str) -> None:
    from connector.config import Settings, secret_values
    from connector.logs import setup_logging
    from connector.runtime import Runtime
    from connector.scheduler import build_scheduler

    settings = Settings.model_validate_json(settings_json)
    setup_logging(settings.logging.level, settings.logging.format, secret_values(settings))
    runtime = Runtime.from_settings(settings, upgrade=False)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        build_scheduler(runtime, blocking=True).start()


def serve_forever(settings: Settings, *, with_scheduler: bool = True) -> None:
    """Run HTTP in the foreground; the scheduler in a child process if asked."""
    child = None
    if with_scheduler:
        ctx = multiprocessing.get_context("spawn")
        child = ctx.Process(
            target=_scheduler_main,
            args=(_settings_json(settings),),
            name="closedloop-scheduler",
            daemon=True,
        )
        child.start()
        log.info("scheduler process started (pid %s)", child.pid)
    try:
        _Gunicorn(settings, gunicorn_options(settings)).run()
    finally:
        if child is not None and child.is_alive():
            child.terminate()
            child.join(10)


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
