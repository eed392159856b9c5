"""Failed log-ins, counted per client address and per user name in the database.

Rows in the database, not counters in memory, so the limits hold across gunicorn workers,
replicas and restarts. A key that fails ``limit`` times (failures more than ``WINDOW`` apart
start over) is locked for ``FIRST_LOCK``, doubled with each further failure up to
``MAX_LOCK``; while locked, credentials are not even checked. A successful log-in clears both
keys. User names are stored as hashes: people type passwords into the user field.

The address is the one the server sees: behind a proxy that is the proxy's, shared by every
client, so a locked address locks them all until it expires (the per-user limit still
applies as it should).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.storage.db import READ_ONLY
from connector.storage.models import LoginThrottle, utcnow

WINDOW = timedelta(minutes=15)
FIRST_LOCK = timedelta(seconds=30)
MAX_LOCK = timedelta(minutes=15)
#: Failures before a lock: an address may mistype more than one person can.
IP_LIMIT = 20
USER_LIMIT = 5


@dataclass(frozen=True)
class Key:
    """One counted identity: its row key and how many failures it is allowed."""

    key: str
    limit: int


def by_address(address: str | None) -> Key:
    """The key for a client address."""
    return Key(f"ip:{(address or 'unknown')[:70]}", IP_LIMIT)


def by_user(username: str) -> Key:
    """The key for a user name (hashed; case and surrounding spaces do not matter)."""
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return Key(f"user:{digest}", USER_LIMIT)


def wait_seconds(engine: Engine, keys: list[Key], *, now: datetime | None = None) -> int:
    """Whole seconds until none of ``keys`` is locked (0: go ahead).

    A read-only transaction: on SQLite it takes no write lock beside the tracker's writers.
    """
    now = now or utcnow()
    with engine.connect().execution_options(**{READ_ONLY: True}) as conn:
        locks = conn.scalars(
            select(LoginThrottle.locked_until).where(
                LoginThrottle.key.in_([k.key for k in keys]), LoginThrottle.locked_until > now
            )
        ).all()
    return max((_ceil_seconds(until - now) for until in locks), default=0)


def record_failure(engine: Engine, keys: list[Key], *, now: datetime | None = None) -> int:
    """Count a failure against every key; the seconds until the caller may retry (0: now)."""
    now = now or utcnow()
    try:
        return _record(engine, keys, now)
    except IntegrityError:  # a concurrent first failure created a row: count on top of it
        return _record(engine, keys, now)


def _record(engine: Engine, keys: list[Key], now: datetime) -> int:
    wait = 0
    with Session(engine) as db, db.begin():
        for key in sorted(keys, key=lambda k: k.key):  # one lock order: no deadlocks
            row = db.scalars(
                select(LoginThrottle).where(LoginThrottle.key == key.key).with_for_update()
            ).one_or_none()
            if row is None:
                row = LoginThrottle(key=key.key, failures=0, last_failure_at=now)
                db.add(row)
            elif now - row.last_failure_at > WINDOW:
                row.failures = 0
            row.failures += 1
            row.last_failure_at = now
            if row.failures >= key.limit:
                lock = min(MAX_LOCK, FIRST_LOCK * 2 ** min(row.failures - key.limit, 16))
                row.locked_until = now + lock
                wait = max(wait, _ceil_seconds(lock))
            db.flush()
    return wait


def clear(engine: Engine, keys: list[Key]) -> None:
    """Forget the failures of ``keys`` (after a successful log-in)."""
    with engine.begin() as db:
        db.execute(delete(LoginThrottle).where(LoginThrottle.key.in_([k.key for k in keys])))


def _ceil_seconds(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds()))
