"""Raw IP addresses are kept only as long as the platforms can use them.

Meta takes the visitor's IP (``client_ip_address``) with events up to 7 days old, so by default
the address of a browser's last hit is erased 7 days after it (``tracking.ip_retention_days``),
from the visitors and from the outbox rows that copied it. The purge runs first in every sync
run (:class:`RetentionStep`), so planning never reads an expired address, and also on its own
from :func:`purge_expired_ips`. Reports never select the column.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Text, cast, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.runs import RunContext
from connector.storage.models import Conversion, Visitor, utcnow

log = logging.getLogger(__name__)
IP_KEY = "client_ip"


def purge_expired_ips(
    sessions: sessionmaker[Session], days: int, now: datetime | None = None
) -> dict[str, int]:
    """Erase IPs older than ``days``; how many visitors and outbox rows lost one."""
    cutoff = (now or utcnow()) - timedelta(days=days)
    with sessions.begin() as session:
        visitors = session.execute(
            update(Visitor)
            .where(Visitor.client_ip_at < cutoff)
            .values(client_ip=None, client_ip_at=None)
            .execution_options(synchronize_session=False)
        ).rowcount
        stale = session.scalars(
            select(Conversion).where(
                Conversion.created_at < cutoff,
                cast(Conversion.identifiers, Text).like(f'%"{IP_KEY}"%'),
            )
        ).all()
        for row in stale:
            row.identifiers = {k: v for k, v in (row.identifiers or {}).items() if k != IP_KEY}
    return {"visitors": int(visitors or 0), "conversions": len(stale)}


class RetentionStep:
    """The first step of every run: erase expired IP addresses (a dry run changes nothing)."""

    name = "retention"

    def __call__(self, ctx: RunContext) -> None:
        """Purge, and count what was erased in the run's figures."""
        if ctx.dry_run:
            return
        days = ctx.runtime.settings.tracking.ip_retention_days
        erased = purge_expired_ips(ctx.runtime.sessions, days)
        ctx.counts["ips_erased"] = erased["visitors"] + erased["conversions"]
        if any(erased.values()):
            log.info("erased expired IP addresses: %s", erased)
