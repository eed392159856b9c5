"""Erase a person (or one visitor) everywhere closedloop stored them, and say what went.

By email: the person with that email hash, all their visitors and everything hanging off them.
By visitor ID: that visitor, and the person it belongs to (with their other visitors). Pending
conversions of the person's CRM deals are dropped too (they carry hashed identifiers and were
not delivered yet); delivered ones are history the platforms already hold.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from connector.identity import email_key, legacy_email_key
from connector.storage.models import (
    Attribution,
    ClickId,
    Conversion,
    Deal,
    Lead,
    LifecycleEvent,
    Person,
    Touchpoint,
    Visitor,
)

PENDING = "pending"


def forget(
    sessions: sessionmaker[Session], *, email: str | None = None, visitor_id: str | None = None
) -> dict[str, int]:
    """Delete everything about the person behind ``email`` or ``visitor_id``; counts per kind."""
    if bool(email) == bool(visitor_id):
        raise ValueError("give exactly one of email or visitor_id")
    with sessions.begin() as session:
        person_ids: set[int] = set()
        visitor_ids: set[str] = set()
        email_keys: set[str] = set()
        if email:
            key = email_key(email)
            if key is None:
                raise ValueError("email: is not a valid email address")
            email_keys.add(key)  # CRM lifecycle rows may exist without a tracked person
            if legacy := legacy_email_key(email):
                email_keys.add(legacy)  # a person migration 0006 could not re-key
            person_ids.update(
                session.scalars(select(Person.id).where(Person.email_sha256.in_(email_keys)))
            )
        else:
            visitor = session.get(Visitor, visitor_id)
            if visitor is not None:
                visitor_ids.add(visitor.id)
                if visitor.person_id is not None:
                    person_ids.add(visitor.person_id)
        if person_ids:
            visitor_ids.update(
                session.scalars(select(Visitor.id).where(Visitor.person_id.in_(person_ids)))
            )
        return _delete_all(session, person_ids, visitor_ids, email_keys)


def _delete_all(
    session: Session, person_ids: set[int], visitor_ids: set[str], email_keys: set[str]
) -> dict[str, int]:
    people = session.execute(
        select(Person.crm_contact_id, Person.email_sha256).where(Person.id.in_(person_ids))
    ).all()
    contact_ids = [
        c
        for c, _ in people
        if c and c.isalnum()  # CRM IDs are alphanumeric; LIKE-safe
    ]
    email_keys = email_keys | {key for _, key in people if key}
    touchpoints = select(Touchpoint.id).where(Touchpoint.visitor_id.in_(visitor_ids))
    counts = {
        "conversions": _run(session, _pending_conversions(session, contact_ids)),
        "attributions": _run(
            session, delete(Attribution).where(Attribution.touchpoint_id.in_(touchpoints))
        ),
        "click_ids": _run(session, delete(ClickId).where(ClickId.visitor_id.in_(visitor_ids))),
        "touchpoints": _run(
            session, delete(Touchpoint).where(Touchpoint.visitor_id.in_(visitor_ids))
        ),
        "leads": _run(
            session,
            delete(Lead).where(
                or_(Lead.person_id.in_(person_ids), Lead.visitor_id.in_(visitor_ids))
            ),
        ),
        "visitors": _run(session, delete(Visitor).where(Visitor.id.in_(visitor_ids))),
        "lifecycle_events": _run(
            session,
            delete(LifecycleEvent).where(
                or_(
                    LifecycleEvent.email_sha256.in_(email_keys),
                    LifecycleEvent.contact_id.in_(contact_ids),
                )
            ),
        ),
        "persons": _run(session, delete(Person).where(Person.id.in_(person_ids))),
    }
    return counts


def _pending_conversions(session: Session, contact_ids: list[str]) -> Any:
    """DELETE of the not-yet-delivered conversions of deals associated with the contacts."""
    if not contact_ids:
        return None
    as_text = cast(Deal.contact_ids, String)
    # contact_ids is a JSON list of strings; match the quoted ID inside its text form, which
    # reads the same on SQLite and PostgreSQL.
    deal_ids = list(
        session.scalars(
            select(Deal.id).where(or_(*(as_text.like(f'%"{cid}"%') for cid in contact_ids)))
        )
    )
    if not deal_ids:
        return None
    return delete(Conversion).where(Conversion.deal_id.in_(deal_ids), Conversion.status == PENDING)


def _run(session: Session, statement: Any) -> int:
    if statement is None:
        return 0
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
