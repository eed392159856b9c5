"""Claiming due outbox rows so that concurrent workers never send the same row.

A claim is ``claimed_by``/``claimed_until`` on the row, taken in one short transaction:
PostgreSQL locks the candidate rows with ``FOR UPDATE SKIP LOCKED`` (two workers pick disjoint
rows without waiting on each other); SQLite ignores that clause, but every write transaction
there starts with ``BEGIN IMMEDIATE`` (see ``connector.storage.db``), so the select-then-update
runs alone. A claim that outlives ``claimed_until`` (the worker died) is free again, and the row
is resent with the same dedup key, which the platform ignores if it already has it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.storage.models import Conversion

PENDING = "pending"


def due_rows(
    destination: str, due_before: datetime, now: datetime, *, status: str = PENDING
) -> ColumnElement[bool]:
    """Rows of ``destination`` in ``status`` whose time is due and that no live claim holds.

    Pending rows wait to be sent; confirming rows (``connector.outbox.confirm``) wait for
    their next look-up. Both are claimed the same way.
    """
    return and_(
        Conversion.destination == destination,
        Conversion.status == status,
        or_(Conversion.next_attempt_at.is_(None), Conversion.next_attempt_at <= due_before),
        or_(Conversion.claimed_until.is_(None), Conversion.claimed_until < now),
    )


def claim_due(
    sessions: sessionmaker[Session],
    destination: str,
    *,
    worker: str,
    limit: int,
    now: datetime,
    claim_seconds: float,
    due_before: datetime | None = None,
) -> list[Conversion]:
    """Claim up to ``limit`` due rows of ``destination`` for ``worker``; oldest due first.

    ``due_before`` (default ``now``) is fixed by the caller for a whole pass, so rows that
    were retried during the pass are not picked up again by the same pass.
    """
    cutoff = due_before or now
    until = now + timedelta(seconds=claim_seconds)
    with sessions.begin() as session:
        rows = list(
            session.scalars(
                select(Conversion)
                .where(due_rows(destination, cutoff, now))
                .order_by(Conversion.next_attempt_at, Conversion.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not rows:
            return []
        ids = [row.id for row in rows]
        # The same due condition again: on SQLite this makes the claim a conditional update
        # even if a writer slipped in; on PostgreSQL the rows are locked, so it always holds.
        result = session.execute(
            update(Conversion)
            .where(Conversion.id.in_(ids), due_rows(destination, cutoff, now))
            .values(claimed_by=worker, claimed_until=until)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != len(ids):  # pragma: no cover - defensive, see comment above
            claimed = set(
                session.scalars(
                    select(Conversion.id).where(
                        Conversion.id.in_(ids), Conversion.claimed_by == worker
                    )
                )
            )
            rows = [row for row in rows if row.id in claimed]
        session.expunge_all()  # detach first: the attributes below must not be flushed again
        for row in rows:
            row.claimed_by, row.claimed_until = worker, until
    return rows


def scan_due(
    sessions: sessionmaker[Session],
    destination: str,
    *,
    after_id: int,
    limit: int,
    now: datetime,
) -> list[Conversion]:
    """Read (without claiming) the next due rows by id: a dry run changes nothing."""
    with sessions() as session:
        rows = list(
            session.scalars(
                select(Conversion)
                .where(due_rows(destination, now, now), Conversion.id > after_id)
                .order_by(Conversion.id)
                .limit(limit)
            )
        )
        session.expunge_all()
    return rows
