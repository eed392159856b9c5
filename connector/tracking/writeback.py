"""CRM write-back: first/last touch, latest click IDs and visitor ID onto the CRM contact.

Runs after the response, never inside it. A person's due leads are claimed together with a
conditional UPDATE (``pending`` and due → ``sending`` with a lease until
``crm_next_attempt_at``), so several threads, gunicorn workers or hosts write each lead once
and each person by one pass at a time; a claim whose holder died is due again when its lease
runs out. Failures retry with the outbox's backoff policy, per person: a pass writes all its
contacts in a few batch requests (``CrmSource.upsert_contacts``), and each person's leads are
finished (done, retry later, failed) by that person's own outcome.

A person written once is written by the stored ``persons.crm_contact_id`` from then on, so a
repeat lead updates that contact even after the plain email was dropped
(``tracking.store_plain_email: false``), and the stored ID is never moved to another contact
while the CRM still has it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from connector.errors import Permanent
from connector.mapping import MappingProfile
from connector.outbox.backoff import RetryPolicy
from connector.runtime import Runtime
from connector.storage.models import ClickId, Lead, Person, Touchpoint, Visitor
from connector.tracking.schemas import CLICK_ID_KINDS
from platforms.crm import ContactWrite

log = logging.getLogger(__name__)

PENDING, SENDING, DONE, FAILED = "pending", "sending", "done", "failed"
CLAIM_SECONDS = 300
TOUCH_FIELDS = {
    "source": "source",
    "medium": "medium",
    "campaign": "campaign",
    "keyword": "term",
    "landing_page": "url",
    "channel": "channel",
}


def _due(now: datetime) -> Any:
    return or_(
        and_(
            Lead.crm_status == PENDING,
            or_(Lead.crm_next_attempt_at.is_(None), Lead.crm_next_attempt_at <= now),
        ),
        and_(Lead.crm_status == SENDING, Lead.crm_next_attempt_at <= now),
    )


def claim(runtime: Runtime, now: datetime, limit: int) -> list[int]:
    """Claim the due leads of up to ``limit`` people; each ID is returned to exactly one caller.

    A person's due leads are claimed together, and not while another pass holds one of theirs
    (sending, lease running): two passes writing one person at once could both miss the contact
    and create it twice.
    """
    with runtime.sessions() as session:
        people = list(
            session.scalars(
                select(Lead.person_id)
                .where(_due(now))
                .group_by(Lead.person_id)
                .order_by(func.min(Lead.id))
                .limit(limit)
            )
        )
    held = aliased(Lead)
    claimed = []
    for person_id in people:
        busy = exists().where(
            held.person_id == person_id,
            held.crm_status == SENDING,
            held.crm_next_attempt_at > now,
        )
        with runtime.sessions.begin() as session:
            ids = session.scalars(
                update(Lead)
                .where(Lead.person_id == person_id, _due(now), ~busy)
                .values(
                    crm_status=SENDING,
                    crm_attempts=Lead.crm_attempts + 1,
                    crm_next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS),
                )
                .returning(Lead.id)
                .execution_options(synchronize_session=False)
            )
            claimed.extend(sorted(ids))
    return claimed


def process_pending(
    runtime: Runtime, source: Any, now: datetime, *, limit: int = 50
) -> dict[str, int]:
    """Write back the due leads (one contact per person, batched); counts by outcome."""
    counts = {"claimed": 0, "written": 0, "retry": 0, "failed": 0}
    lead_ids = claim(runtime, now, limit)
    counts["claimed"] = len(lead_ids)
    if not lead_ids:
        return counts
    profile = runtime.profile
    by_person: dict[int, list[int]] = defaultdict(list)
    with runtime.sessions() as session:
        for lead in session.scalars(select(Lead).where(Lead.id.in_(lead_ids))):
            by_person[lead.person_id].append(lead.id)
    policy = RetryPolicy.from_settings(runtime.settings.delivery)
    writes = []
    for person_id, ids in by_person.items():
        write = _contact_write(runtime, profile, person_id, ids)
        if write is None:
            counts["failed"] += len(ids)
        else:
            writes.append(write)
    if not writes:
        return counts
    try:
        _ensure_properties(source, profile)
        outcomes = source.upsert_contacts(writes)
    except Exception as exc:  # any CRM failure: retry or give up, never crash the worker
        outcomes = {write.key: exc for write in writes}
    for write in writes:
        ids = by_person[write.key]
        outcome = outcomes.get(write.key, RuntimeError("the CRM write gave no outcome"))
        if isinstance(outcome, Exception):
            result = _failed_attempt(runtime, write.key, ids, outcome, now, policy)
        else:
            result = _written(runtime, write, ids, outcome)
        counts[result] += len(ids)
    return counts


def _contact_write(
    runtime: Runtime, profile: MappingProfile, person_id: int, lead_ids: list[int]
) -> ContactWrite | None:
    """What to write for a person; None (leads finished as failed) if there is nothing to."""
    with runtime.sessions() as session:
        person = session.get(Person, person_id)
        if person is None:  # erased meanwhile
            return None
        if not (person.crm_contact_id or person.email or person.phone_e164):
            _finish(runtime, lead_ids, FAILED, "no contact ID, email or phone to find the contact")
            return None
        properties = contact_properties(session, profile, person_id, lead_ids)
        visitor_ids = session.scalars(
            select(Visitor.id).where(Visitor.person_id == person_id).order_by(Visitor.id)
        )
        return ContactWrite(
            person_id,
            person.email,
            person.phone_e164,
            properties,
            contact_id=person.crm_contact_id,
            visitor_ids=tuple(visitor_ids),
        )


def _failed_attempt(
    runtime: Runtime,
    person_id: int,
    lead_ids: list[int],
    exc: Exception,
    now: datetime,
    policy: RetryPolicy,
) -> str:
    """Back off and retry the person's leads, or give up (permanent error, attempts spent)."""
    with runtime.sessions.begin() as session:
        attempts = max(
            session.scalars(select(Lead.crm_attempts).where(Lead.id.in_(lead_ids))),
            default=1,
        )
    message = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, Permanent) or policy.exhausted(attempts):
        _finish(runtime, lead_ids, FAILED, message)
        log.warning("CRM write-back failed for person %s: %s", person_id, message)
        return "failed"
    delay = policy.delay(attempts, getattr(exc, "retry_after", None))
    _finish(runtime, lead_ids, PENDING, message, next_at=now + timedelta(seconds=delay))
    log.info("CRM write-back for person %s retries in %.0fs: %s", person_id, delay, message)
    return "retry"


def _written(runtime: Runtime, write: ContactWrite, lead_ids: list[int], contact_id: str) -> str:
    """Remember the person's contact; a contact ID set meanwhile by another pass is kept."""
    with runtime.sessions.begin() as session:
        person = session.get(Person, write.key)
        if person is not None:
            if person.crm_contact_id in (None, write.contact_id):
                person.crm_contact_id = str(contact_id)
            elif person.crm_contact_id != str(contact_id):
                log.warning(
                    "CRM write-back for person %s wrote contact %s, but the person is already "
                    "known as contact %s; keeping that one",
                    write.key,
                    contact_id,
                    person.crm_contact_id,
                )
            if not runtime.settings.tracking.store_plain_email:
                person.email = None  # kept only until the CRM had it
    _finish(runtime, lead_ids, DONE, None)
    return "written"


def _ensure_properties(source: Any, profile: MappingProfile) -> None:
    """Create the custom contact properties (the source skips the ones it has seen)."""
    source.ensure_contact_properties(
        dict(profile.writeback.properties), profile.writeback.group_name
    )


def _finish(
    runtime: Runtime,
    lead_ids: Iterable[int],
    status: str,
    error: str | None,
    *,
    next_at: datetime | None = None,
) -> None:
    with runtime.sessions.begin() as session:
        session.execute(
            update(Lead)
            .where(Lead.id.in_(list(lead_ids)), Lead.crm_status == SENDING)
            .values(crm_status=status, crm_error=error, crm_next_attempt_at=next_at)
            .execution_options(synchronize_session=False)
        )


def contact_properties(
    session: Session, profile: MappingProfile, person_id: int, lead_ids: list[int]
) -> dict[str, str]:
    """The mapped CRM properties for a person's journey (empty values are left out)."""
    visitor_ids = list(session.scalars(select(Visitor.id).where(Visitor.person_id == person_id)))
    values: dict[str, str | None] = {}
    if visitor_ids:
        first = session.scalars(
            select(Touchpoint)
            .where(Touchpoint.visitor_id.in_(visitor_ids))
            .order_by(Touchpoint.occurred_at, Touchpoint.id)
            .limit(1)
        ).first()
        last = (
            session.scalars(
                select(Touchpoint)
                .where(
                    Touchpoint.visitor_id.in_(visitor_ids),
                    Touchpoint.is_new_session.is_(True),
                    Touchpoint.channel != "Direct",
                )
                .order_by(Touchpoint.occurred_at.desc(), Touchpoint.id.desc())
                .limit(1)
            ).first()
            or session.scalars(
                select(Touchpoint)
                .where(Touchpoint.visitor_id.in_(visitor_ids), Touchpoint.is_new_session.is_(True))
                .order_by(Touchpoint.occurred_at.desc(), Touchpoint.id.desc())
                .limit(1)
            ).first()
        )
        for prefix, touch in (("first_touch", first), ("last_touch", last)):
            for name, column in TOUCH_FIELDS.items():
                values[f"{prefix}_{name}"] = getattr(touch, column) if touch else None
        for kind in CLICK_ID_KINDS:
            values[kind] = session.scalar(
                select(ClickId.value)
                .where(ClickId.visitor_id.in_(visitor_ids), ClickId.kind == kind)
                .order_by(ClickId.first_seen_at.desc(), ClickId.id.desc())
                .limit(1)
            )
    lead_visitor = session.scalar(
        select(Lead.visitor_id)
        .where(Lead.id.in_(lead_ids), Lead.visitor_id.is_not(None))
        .order_by(Lead.occurred_at.desc(), Lead.id.desc())  # one form sent from two devices
        .limit(1)
    )
    values["visitor_id"] = lead_visitor or (visitor_ids[0] if visitor_ids else None)
    mapping = profile.writeback.properties
    return {mapping[k]: str(v) for k, v in values.items() if k in mapping and v not in (None, "")}
