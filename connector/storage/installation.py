"""Secrets made once per installation and kept in its database, the same for every process.

An installation is its database: every gunicorn worker, replica, scheduler and CLI command
pointed at it reads the same row, so what one process signs, all of them accept. The first
process to need a secret creates it; a concurrent creator loses the insert race and reads the
winner's value, so there is never more than one.
"""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from connector.storage.db import READ_ONLY
from connector.storage.models import InstallationSecret, utcnow


def installation_secret(engine: Engine, name: str, *, nbytes: int = 32) -> str:
    """The secret called ``name``, created (``nbytes`` random bytes, hex) on first use."""
    existing = _read(engine, name)
    if existing is not None:
        return existing
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(InstallationSecret).values(
                    name=name, value=secrets.token_hex(nbytes), created_at=utcnow()
                )
            )
    except IntegrityError:
        pass  # another process created it first: theirs is the one
    value = _read(engine, name)
    if value is None:  # pragma: no cover - the row was just written or read
        raise RuntimeError(f"installation secret {name!r} could not be stored")
    return value


def _read(engine: Engine, name: str) -> str | None:
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        return conn.scalar(select(InstallationSecret.value).where(InstallationSecret.name == name))
