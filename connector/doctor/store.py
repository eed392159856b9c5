"""The store's part of the doctor: migrations current, the lease table writable."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine

from connector.storage import lease, migrate
from platforms.doctor import Findings

#: The doctor's probe lease: its own name per run, so it never meets the sync's lease.
PROBE_PREFIX = "doctor-probe-"


def check_store(engine: Engine, findings: Findings) -> None:
    """Rows "migrations current" and "lease table writable"."""
    fix_db = "check database.url and that the database is up"
    with findings.guard("migrations current", fix_db):
        current, head = migrate.current_revision(engine), migrate.head_revision()
        if current == head:
            findings.ok("migrations current", f"at {head}")
        else:
            findings.fail(
                "migrations current",
                f"database at {current or 'no revision'}, code at {head}",
                "run `closedloop db upgrade`",
            )
    with findings.guard("lease table writable", fix_db + " and writable by this user"):
        name = PROBE_PREFIX + uuid.uuid4().hex[:16]
        holder = lease.holder_name()
        if not lease.acquire(engine, name, holder, ttl_seconds=30):
            findings.stop("lease table writable", "the probe lease was refused", fix_db)
        lease.release(engine, name, holder)
        findings.ok("lease table writable", "took and released a probe lease")
