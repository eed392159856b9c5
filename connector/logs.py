"""Logging: one line per event (text or JSON), with secrets and emails scrubbed.

The scrubbing is a filter on the handler, so it also covers third-party SDK log lines.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
BEARER = re.compile(r"(?i)(bearer\s+|access_token=|api_secret=|key=)[^\s&\"',]+")
MASK = "***"


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
