"""What a privacy request asks outside systems to erase, stored until they confirmed it.

Items are queued (``erasure_requests``) inside the transaction of the local erase, then worked
off: right after it, on every later privacy request, by ``closedloop forget --retry`` and by
the scheduler. A platform that fails is asked again with the outbox's backoff; one that refuses
for good (missing scope, unknown property) is recorded as failed until someone fixes it and
retries. An item's identifiers are emptied the moment the platform confirmed.

Which systems take part is declared by each platform: the CRM named by the mapping profile
clears the write-back properties on the person's contacts
(``CrmSource.clear_contact_properties``), and every enabled destination says what it can erase
(``Destination.erase_requests`` / ``erase``). Nothing here names a platform.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

import platforms
from connector.errors import Permanent
from connector.outbox.backoff import RetryPolicy
from connector.runtime import Runtime
from connector.storage.models import ErasureRequest, utcnow
from connector.sync.windows import destination_class
from platforms.base import ErasureSubject

log = logging.getLogger(__name__)

PENDING, DONE, FAILED = "pending", "done", "failed"
CRM, DESTINATION = "crm", "destination"
#: How long a worker holds a claimed item before another may take it (a crashed worker).
CLAIM_SECONDS = 300


@dataclass
class PlaceReport:
    """Per outside system: what was asked and how it went."""

    role: str
    asked: int = 0
    done: int = 0
    pending: int = 0
    failed: int = 0
    erased: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The report's JSON form."""
        return {
            "role": self.role,
            "asked": self.asked,
            "done": self.done,
            "pending": self.pending,
            "failed": self.failed,
            "erased": dict(self.erased),
            "errors": list(self.errors),
        }


def enqueue(
    session: Session, runtime: Runtime, contact_ids: list[str], subject: ErasureSubject
) -> list[int]:
    """Queue the outside erasures for one person (in the caller's transaction); their IDs."""
    rows: list[ErasureRequest] = []
    settings = runtime.settings
    crm = runtime.profile.crm
    if contact_ids and _enabled(runtime, crm):
        rows.extend(
            ErasureRequest(place=crm, role=CRM, item={"contact_id": cid})
            for cid in sorted(set(contact_ids))
        )
    for name in platforms.DESTINATIONS:
        section = getattr(settings.platforms, name, None)
        cls = destination_class(name)
        if section is None or cls is None or not section.enabled:
            continue
        rows.extend(
            ErasureRequest(place=name, role=DESTINATION, item=item)
            for item in cls.erase_requests(section, subject)
        )
    for row in rows:
        row.status, row.attempts, row.next_attempt_at = PENDING, 0, utcnow()
    session.add_all(rows)
    session.flush()
    return [row.id for row in rows]


def work(runtime: Runtime, now: datetime | None = None, *, ids: list[int] | None = None) -> None:
    """Ask the outside systems for the due items (of ``ids`` only, when given)."""
    now = now or utcnow()
    claimed = _claim(runtime, now, ids)
    if not claimed:
        return
    policy = RetryPolicy.from_settings(runtime.settings.delivery)
    by_place: dict[tuple[str, str], list[ErasureRequest]] = defaultdict(list)
    for row in claimed:
        by_place[(row.place, row.role)].append(row)
    for (place, role), rows in by_place.items():
        if role == CRM:
            _crm(runtime, place, rows, now, policy)
        else:
            for row in rows:
                _destination(runtime, place, row, now, policy)


def retry_failed(runtime: Runtime) -> int:
    """Make items recorded as failed due again (after fixing a scope, say); how many."""
    with runtime.sessions.begin() as session:
        result = session.execute(
            update(ErasureRequest)
            .where(ErasureRequest.status == FAILED)
            .values(status=PENDING, attempts=0, next_attempt_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)


def report(runtime: Runtime, ids: list[int]) -> dict[str, PlaceReport]:
    """Per place, what became of the items ``ids``."""
    places: dict[str, PlaceReport] = {}
    if not ids:
        return places
    with runtime.sessions() as session:
        rows = session.scalars(
            select(ErasureRequest).where(ErasureRequest.id.in_(ids)).order_by(ErasureRequest.id)
        )
        for row in rows:
            place = places.setdefault(row.place, PlaceReport(row.role))
            place.asked += 1
            if row.status == DONE:
                place.done += 1
                for key, value in (row.result or {}).items():
                    place.erased[key] = place.erased.get(key, 0) + int(value)
            elif row.status == FAILED:
                place.failed += 1
            else:
                place.pending += 1
            if row.status != DONE and row.last_error and row.last_error not in place.errors:
                place.errors.append(row.last_error)
    return places


def outstanding(runtime: Runtime) -> dict[str, int]:
    """Items still pending or failed, across all privacy requests."""
    with runtime.sessions() as session:
        statuses = session.scalars(
            select(ErasureRequest.status).where(ErasureRequest.status.in_((PENDING, FAILED)))
        )
        counts = {PENDING: 0, FAILED: 0}
        for status in statuses:
            counts[status] += 1
        return counts


# -- internals ---------------------------------------------------------------------------------


def _enabled(runtime: Runtime, name: str) -> bool:
    section = getattr(runtime.settings.platforms, name, None)
    return bool(section is not None and section.enabled)


def _claim(runtime: Runtime, now: datetime, ids: list[int] | None) -> list[ErasureRequest]:
    """Take the items with a lease, each by one caller only (a conditional UPDATE per row)."""
    with runtime.sessions() as session:
        query = select(ErasureRequest.id, ErasureRequest.next_attempt_at).where(
            ErasureRequest.status == PENDING,
            or_(ErasureRequest.next_attempt_at.is_(None), ErasureRequest.next_attempt_at <= now),
        )
        if ids is not None:  # one request's own items (another pass may hold some: skipped)
            query = query.where(ErasureRequest.id.in_(ids))
        candidates = session.execute(query.order_by(ErasureRequest.id).limit(500)).all()
    claimed: list[ErasureRequest] = []
    for row_id, due in candidates:
        with runtime.sessions.begin() as session:
            taken = session.execute(
                update(ErasureRequest)
                .where(
                    ErasureRequest.id == row_id,
                    ErasureRequest.status == PENDING,
                    ErasureRequest.next_attempt_at.is_(None)
                    if due is None
                    else ErasureRequest.next_attempt_at == due,
                )
                .values(
                    attempts=ErasureRequest.attempts + 1,
                    next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS),
                )
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount:
                row = session.get(ErasureRequest, row_id)
                if row is not None:
                    session.expunge(row)
                    claimed.append(row)
    return claimed


def _crm(
    runtime: Runtime, place: str, rows: list[ErasureRequest], now: datetime, policy: RetryPolicy
) -> None:
    """Clear the write-back properties (every one the profile maps) contact by contact."""
    from connector.tracking.worker import crm_source

    properties = sorted(set(runtime.profile.writeback.properties.values()))
    source = None
    for row in rows:
        try:
            if not _enabled(runtime, place):
                raise RuntimeError(f"platforms.{place} is not enabled")
            source = source or crm_source(runtime)
            cleared = source.clear_contact_properties([str(row.item["contact_id"])], properties)
        except Exception as exc:  # any CRM failure: retry or record, never lose the local erase
            _failed(runtime, row, exc, now, policy)
            continue
        _done(runtime, row, {"contacts": cleared, "properties": len(properties) if cleared else 0})


def _destination(
    runtime: Runtime, place: str, row: ErasureRequest, now: datetime, policy: RetryPolicy
) -> None:
    cls = destination_class(place)
    section = getattr(runtime.settings.platforms, place, None)
    try:
        if cls is None or section is None or not section.enabled:
            raise RuntimeError(f"platforms.{place} is not enabled")
        timeout = runtime.settings.delivery.request_timeout_seconds
        cls.erase(section, dict(row.item), timeout=timeout)
    except Exception as exc:  # recorded per item; the local erase stands
        _failed(runtime, row, exc, now, policy)
        return
    _done(runtime, row, {"users": 1})


def _done(runtime: Runtime, row: ErasureRequest, result: dict[str, int]) -> None:
    """Confirmed: forget the identifier, keep what was done."""
    with runtime.sessions.begin() as session:
        session.execute(
            update(ErasureRequest)
            .where(ErasureRequest.id == row.id)
            .values(
                status=DONE,
                item={},
                result=result,
                last_error=None,
                next_attempt_at=None,
                finished_at=utcnow(),
            )
            .execution_options(synchronize_session=False)
        )


def _failed(
    runtime: Runtime, row: ErasureRequest, exc: Exception, now: datetime, policy: RetryPolicy
) -> None:
    """Back off and ask again later, or record the refusal (permanent, or attempts spent)."""
    message = f"{type(exc).__name__}: {exc}"[:2000]
    attempts = row.attempts  # read after the claim's increment
    values: dict[str, Any] = {"last_error": message}
    if isinstance(exc, Permanent) or policy.exhausted(attempts):
        values.update(status=FAILED, next_attempt_at=None)
        log.warning("erasure at %s failed for good: %s", row.place, message)
    else:
        delay = policy.delay(attempts, getattr(exc, "retry_after", None))
        values["next_attempt_at"] = now + timedelta(seconds=delay)
        log.info("erasure at %s retries in %.0fs: %s", row.place, delay, message)
    with runtime.sessions.begin() as session:
        session.execute(
            update(ErasureRequest)
            .where(ErasureRequest.id == row.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
