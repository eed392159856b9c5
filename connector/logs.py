"""Logging: one line per event (text or JSON), with secrets and emails scrubbed.

The scrubbing is a filter on the root logger's handler, so it also covers third-party SDK log
lines, as long as they reach the root: Google's SDKs stop their ``google`` loggers from
propagating unless those are configured, so :func:`setup_logging` configures them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
BEARER = re.compile(r"(?i)(bearer\s+|access_token=|api_secret=|key=)[^\s&\"',]+")
MASK = "***"
#: Google's SDKs (google-auth, google-api-core) set ``propagate = False`` on the ``google``
#: logger, and on the one named by this variable, unless it already has a level or handler.
GOOGLE_LOGGER = "google"
GOOGLE_SCOPE_ENV = "GOOGLE_SDK_PYTHON_LOGGING_SCOPE"


class RedactingFilter(logging.Filter):
    """Replaces configured secrets, bearer tokens and email addresses in every record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole.
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """The text with every secret and address masked."""
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = BEARER.sub(lambda m: m.group(1) + MASK, text)
        return EMAIL.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Freeze the formatted message, scrubbed, into the record."""
        message = self.scrub(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialise the record."""
        payload = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            payload["exc"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(level: str = "INFO", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Configure the root logger once per process (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_closedloop", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._closedloop = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter(secrets))
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("apscheduler.executors", "urllib3.connectionpool", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    _route_google_loggers_to_root(root.level)


def _route_google_loggers_to_root(level: int) -> None:
    """Keep Google's SDK loggers propagating to the root handler (its redaction and format).

    Giving them a level marks them "configured by the application", which is Google's own
    documented condition for leaving propagation alone; handlers they added are removed.
    """
    for name in {GOOGLE_LOGGER, os.environ.get(GOOGLE_SCOPE_ENV, "").strip() or GOOGLE_LOGGER}:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = True
        for handler in list(logger.handlers):
            logger.removeHandler(handler)


#: gunicorn's INFO lines for each stop ("Handling signal: term", one "Worker exiting" per
#: worker, "Shutting down: Master"); the service logs one line for a clean stop instead.
_GUNICORN_STOP_CHATTER = ("Handling signal:", "Worker exiting", "Shutting down: Master")


def _quiet_gunicorn_stop(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    # A worker still booting when the stop's SIGTERM arrives dies of it before its handler is
    # installed; gunicorn logs that at INFO as expected during a graceful stop.
    stop_chatter = message.startswith(_GUNICORN_STOP_CHATTER) or message.endswith(
        "was sent SIGTERM!"
    )
    if record.levelno == logging.INFO and stop_chatter:
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True


def gunicorn_logger_class() -> type:
    """A gunicorn ``logger_class`` whose lines go through the root handler.

    So they are redacted and JSON-formatted like ours, instead of gunicorn's own stderr
    handler; its per-stop chatter shows at DEBUG only.
    """
    from gunicorn.glogging import Logger

    class RootRoutedLogger(Logger):
        def setup(self, cfg: object) -> None:
            super().setup(cfg)
            for logger in (self.error_log, self.access_log):
                for handler in list(logger.handlers):
                    logger.removeHandler(handler)
                logger.propagate = True
            if _quiet_gunicorn_stop not in self.error_log.filters:
                self.error_log.addFilter(_quiet_gunicorn_stop)

    return RootRoutedLogger
