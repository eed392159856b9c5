"""A database lease: one holder at a time across processes and hosts, reclaimable after a crash.

Taken with a conditional UPDATE (steal only if expired) and, when no row exists
yet, an INSERT that the primary key makes atomic. Works the same on SQLite and PostgreSQL.

A holder names its host and process (:func:`holder_name`), so a lease left by a process of
this host that no longer exists (``kill -9`` of ``sync --once``) is taken over at once
instead of after its expiry; holders on other hosts are only ever reclaimed by expiry.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from connector.storage.models import Lease, utcnow

log = logging.getLogger(__name__)


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
        return _take_from_dead_local_holder(engine, name, holder, now, expires)
    return True


def _take_from_dead_local_holder(
    engine: Engine, name: str, holder: str, now: datetime, expires: datetime
) -> bool:
    """Take a live lease whose holder is a process of this host that has died."""
    with engine.connect() as conn:
        current_holder = conn.scalar(select(Lease.holder).where(Lease.name == name))
    if current_holder is None or not is_dead_local_holder(current_holder):
        return False  # someone else holds a live lease
    with engine.begin() as conn:
        taken = conn.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == current_holder)
            .values(holder=holder, acquired_at=now, expires_at=expires)
        ).rowcount
    if taken:
        log.warning(
            "took over the %s lease from %s: that process of this host no longer runs",
            name,
            current_holder,
        )
    return bool(taken)


def holder_name() -> str:
    """``host:pid:nonce:scope``: who holds a lease, readable by ops and by :func:`acquire`.

    ``scope`` tells apart hosts that share a name but not their processes (containers with
    the host's name, a rebooted machine): only a holder of the same host *and* scope can be
    checked for being alive here.
    """
    return f"{socket.gethostname()[:64]}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{_process_scope()}"


def is_dead_local_holder(holder: str) -> bool:
    """Whether ``holder`` names a process of this host (and scope) that no longer exists."""
    parts = holder.split(":")
    if len(parts) != 4 or os.name != "posix":
        return False
    host, pid, _nonce, scope = parts
    if host != socket.gethostname()[:64] or scope != _process_scope() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False  # this process: alive by definition (another of its threads holds it)
    return not _process_exists(int(pid))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


@cache
def _process_scope() -> str:
    """Short digest of this boot and PID namespace: PIDs only mean something within both."""
    parts = []
    for source in ("/proc/sys/kernel/random/boot_id", "/proc/self/ns/pid"):
        try:
            path = Path(source)
            parts.append(os.readlink(path) if path.is_symlink() else path.read_text().strip())
        except OSError:
            parts.append("")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:8]


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
