"""Persons still keyed the pre-0006 way take the current key when their address shows up.

Migration 0006 re-keyed every person whose plain address was stored. Where only the hash was
kept (the default once the CRM write-back has the address), the old key cannot be turned
into the new one until someone gives the address again: an identify does, so the person is
re-keyed then instead of a second person being started for the same inbox.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.identity import email_key, legacy_email_key
from connector.storage.models import LifecycleEvent, Person


def adopt(session: Session, email: str | None) -> None:
    """Move the person holding ``email``'s old key (and its CRM milestones) to the new key.

    Nothing happens when the key did not change, nobody holds the old one, or somebody already
    holds the new one (matching reads both keys, so that pair still makes one journey).
    """
    legacy, key = legacy_email_key(email), email_key(email)
    if legacy is None or key is None:
        return
    person = session.scalar(select(Person).where(Person.email_sha256 == legacy))
    if person is None or session.scalar(select(Person.id).where(Person.email_sha256 == key)):
        return
    person.email_sha256 = key
    session.execute(
        update(LifecycleEvent).where(LifecycleEvent.email_sha256 == legacy).values(email_sha256=key)
    )
    session.flush()
