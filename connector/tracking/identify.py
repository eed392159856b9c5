"""Tie a visitor to a person when they become a lead (form) or call (telephony webhook).

A person is keyed by the SHA-256 of their normalised email (Google form, see
``connector.identity``), or by their E.164 phone when no email is known. Every visitor (device)
that identifies with the same email is linked to the same person, which merges their journeys.
The plain email is kept only when ``tracking.store_plain_email`` is on, or until the CRM
write-back has used it (it needs the address to find or create the contact).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

import platforms
from connector.config import Settings
from connector.identity import email_key, normalize_email, normalize_phone, phone_key
from connector.storage.models import Lead, Person, Visitor
from connector.tracking import legacy_keys
from connector.tracking.collect import event_time
from connector.tracking.schemas import Identify

PENDING = "pending"


class InvalidIdentity(ValueError):
    """The email or phone does not normalise; carries the field name for the 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class IdentifyResult:
    """What identify stored."""

    lead_id: int
    person_id: int
    visitor_id: str | None
    new_person: bool


def identify(
    sessions: sessionmaker[Session], body: Identify, settings: Settings, *, now: datetime
) -> IdentifyResult:
    """Link the visitor to the person (creating either as needed) and record a lead."""
    region = settings.tracking.default_phone_region
    email_hash = email_key(body.email) if body.email else None
    if body.email and email_hash is None:
        raise InvalidIdentity("email", "is not a valid email address")
    phone = normalize_phone(body.phone, region) if body.phone else None
    if body.phone and phone is None:
        raise InvalidIdentity("phone", f"is not a valid phone number (region {region})")
    keep_email = settings.tracking.store_plain_email or crm_enabled(settings)
    plain_email = normalize_email(body.email) if keep_email else None
    phone_hash = phone_key(phone, region) if phone else None
    for attempt in range(2):
        try:
            with sessions.begin() as session:
                legacy_keys.adopt(session, body.email)
                return _identify(
                    session,
                    body,
                    email_hash,
                    plain_email,
                    phone,
                    phone_hash,
                    now=now,
                    max_past=timedelta(hours=settings.tracking.accept_client_time_hours),
                )
        except IntegrityError:
            # Another worker created the same person between our lookup and insert: retry,
            # the lookup now finds it.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _identify(
    session: Session,
    body: Identify,
    email_hash: str | None,
    plain_email: str | None,
    phone: str | None,
    phone_hash: str | None,
    *,
    now: datetime,
    max_past: timedelta,
) -> IdentifyResult:
    person = _find_person(session, email_hash, phone_hash)
    new_person = person is None
    if person is None:
        person = Person(email_sha256=email_hash, phone_sha256=phone_hash)
        session.add(person)
    if email_hash and person.email_sha256 is None:
        person.email_sha256 = email_hash
    if plain_email and person.email_sha256 == email_hash:
        person.email = plain_email
    if phone:
        person.phone_e164, person.phone_sha256 = phone, phone_hash
    person.updated_at = now
    session.flush()
    occurred = event_time(body.ts, now, max_past)
    visitor_id = body.visitor_id
    if visitor_id:
        visitor = session.get(Visitor, visitor_id)
        if visitor is None:
            visitor = Visitor(id=visitor_id, first_seen_at=occurred, last_seen_at=occurred)
            session.add(visitor)
        if _takes_visitor(session, visitor, person.id, occurred):
            visitor.person_id = person.id
        session.flush()  # no ORM relationships: the visitor row must exist before the lead
    elif body.kind == "call":
        visitor_id = session.scalar(
            select(Visitor.id)
            .where(Visitor.person_id == person.id)
            .order_by(Visitor.last_seen_at.desc())
            .limit(1)
        )
    lead = Lead(
        person_id=person.id,
        visitor_id=visitor_id,
        kind=body.kind,
        occurred_at=occurred,
        page_url=body.page_url,
        crm_status=PENDING,
        crm_attempts=0,
        crm_next_attempt_at=now,
    )
    session.add(lead)
    session.flush()
    return IdentifyResult(lead.id, person.id, visitor_id, new_person)


def _takes_visitor(session: Session, visitor: Visitor, person_id: int, occurred: datetime) -> bool:
    """Whether this identify links the device to its person.

    A device two people identified on (a shared computer) belongs to whoever identified on it
    last by the identifies' own times, so the outcome does not depend on which request arrived
    first (replays, retries, slow clients, several workers). The lead keeps naming the device
    either way.
    """
    if visitor.person_id is None or visitor.person_id == person_id:
        return True
    owner_latest = session.scalar(
        select(func.max(Lead.occurred_at)).where(
            Lead.visitor_id == visitor.id, Lead.person_id == visitor.person_id
        )
    )
    return owner_latest is None or occurred >= owner_latest


def _find_person(session: Session, email_hash: str | None, phone_hash: str | None) -> Person | None:
    """By email first; by phone when no email is given or no one has that email yet.

    A phone match is only taken if that person has no email or the same one, so two people
    sharing an office line are never merged.
    """
    if email_hash:
        person = session.scalar(select(Person).where(Person.email_sha256 == email_hash))
        if person is not None:
            return person
    if phone_hash:
        candidates = session.scalars(
            select(Person)
            .where(Person.phone_sha256 == phone_hash)
            .order_by(Person.updated_at.desc(), Person.id.desc())
        ).all()
        for person in candidates:
            if email_hash is None or person.email_sha256 is None:
                return person
    return None


def crm_enabled(settings: Settings) -> bool:
    """Whether any CRM is on: write-back then needs the plain email to find the contact."""
    return any(getattr(settings.platforms, name).enabled for name in platforms.CRM_SOURCES)
