"""What operators ask of the outbox: what is stuck and why, and "send those again"."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.storage.models import Conversion

#: Statuses ``closedloop outbox`` lists by default: everything not delivered or given up on,
#: and what was handed over but awaits the platform's verdict (``confirming``).
OPEN_STATUSES = ("pending", "confirming", "dead", "rejected")


@dataclass(frozen=True)
class ReasonGroup:
    """Conversions of one platform and status that share a reason code."""

    destination: str
    status: str
    reason_code: str | None
    count: int
    oldest: datetime | None
    example: str | None


def overview(
    sessions: sessionmaker[Session],
    *,
    statuses: Iterable[str] = OPEN_STATUSES,
    platform: str | None = None,
) -> list[ReasonGroup]:
    """Counts grouped by platform, status and reason code, with an example reason text."""
    stmt = (
        select(
            Conversion.destination,
            Conversion.status,
            Conversion.reason_code,
            func.count(),
            func.min(Conversion.created_at),
            func.max(Conversion.reason),
        )
        .where(Conversion.status.in_(list(statuses)))
        .group_by(Conversion.destination, Conversion.status, Conversion.reason_code)
        .order_by(Conversion.destination, Conversion.status, func.count().desc())
    )
    if platform:
        stmt = stmt.where(Conversion.destination == platform)
    with sessions() as session:
        return [ReasonGroup(*row) for row in session.execute(stmt).all()]


def requeue(
    sessions: sessionmaker[Session],
    *,
    now: datetime,
    platform: str | None = None,
    reason: str | None = None,
    include_rejected: bool = False,
) -> int:
    """Make dead letters (and optionally rejections) pending again, due now, with fresh attempts.

    The last reason stays on the row until the next outcome replaces it, so ``outbox list``
    still shows why it was stuck.
    """
    statuses = ["dead", "rejected"] if include_rejected else ["dead"]
    stmt = (
        update(Conversion)
        .where(Conversion.status.in_(statuses))
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if platform:
        stmt = stmt.where(Conversion.destination == platform)
    if reason:
        stmt = stmt.where(Conversion.reason_code == reason)
    with sessions.begin() as session:
        return session.execute(stmt).rowcount or 0
