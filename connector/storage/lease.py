"""A database lease: one holder at a time across processes and hosts, reclaimable after a crash.

Taken with a conditional UPDATE (steal only if expired) and, when no row exists
yet, an INSERT that the primary key makes atomic. Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from connector.storage.models import Lease, utcnow


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a lease and until when."""

    name: str
    holder: str
    expires_at: datetime


def acquire(
    engine: Engine, name: str, holder: str, ttl_seconds: float, *, now: datetime | None = None
) -> bool:
    """Take the lease if it is free or expired. Returns whether we now hold it.

    Not re-entrant: a holder that already has the lease is refused too, so two runs started by
    the same process (e.g. two HTTP triggers) can never overlap.
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=ttl_seconds)
    with engine.begin() as conn:
        taken = conn.execute(
            update(Lease)
            .where(Lease.name == name, Lease.expires_at < now)
            .values(holder=holder, acquired_at=now, expires_at=expires)
        ).rowcount
    if taken:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(Lease).values(name=name, holder=holder, acquired_at=now, expires_at=expires)
            )
    except IntegrityError:
        return False  # someone else holds a live lease
    return True


def renew(
    engine: Engine, name: str, holder: str, ttl_seconds: float, *, now: datetime | None = None
) -> bool:
    """Extend our lease; False means it was lost (expired and taken by another holder)."""
    with engine.begin() as conn:
        return bool(
            conn.execute(
                update(Lease)
                .where(Lease.name == name, Lease.holder == holder)
                .values(expires_at=(now or utcnow()) + timedelta(seconds=ttl_seconds))
            ).rowcount
        )


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up (only if we still hold it)."""
    with engine.begin() as conn:
        conn.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def current(engine: Engine, name: str, *, now: datetime | None = None) -> LeaseInfo | None:
    """The live holder of a lease, or None if free or expired."""
    with engine.connect() as conn:
        row = conn.execute(select(Lease).where(Lease.name == name)).first()
    if row is None or row.expires_at < (now or utcnow()):
        return None
    return LeaseInfo(row.name, row.holder, row.expires_at)
