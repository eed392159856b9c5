"""A person 0006 could not re-key (only its old hash was stored) is one person, found and erased.

Such a person holds the pre-0006 key of a tagged Gmail address. When the address comes again,
identify moves that person to the current key instead of starting a second one, and forget
by the address erases it.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from connector.identity import email_key, legacy_email_key
from connector.storage.models import LifecycleEvent, Person, Visitor, utcnow

AUTH = {"Authorization": "Bearer test-trigger-token"}
ADDRESS = "Sam.Smith+ads@gmail.com"


def _legacy_person(runtime) -> int:
    """What 0006 leaves for a person whose address was never stored: the old key only."""
    with runtime.sessions.begin() as session:
        person = Person(email_sha256=legacy_email_key(ADDRESS))
        session.add(person)
        session.flush()
        session.add(Visitor(id="old-laptop-000001", person_id=person.id))
        session.add(
            LifecycleEvent(
                contact_id="C1",
                stage="mql",
                email_sha256=legacy_email_key(ADDRESS),
                entered_at=utcnow(),
            )
        )
        return person.id


def test_the_old_key_is_the_pre_0006_form():
    """Dots removed, +tag kept; only tagged Gmail addresses have one."""
    assert legacy_email_key(ADDRESS) == hashlib.sha256(b"samsmith+ads@gmail.com").hexdigest()
    assert legacy_email_key("samsmith@gmail.com") is None
    assert legacy_email_key("sam+ads@example.com") is None


def test_identify_re_keys_the_person_instead_of_splitting_it(client, runtime):
    """Same inbox, new device: the old person takes the current key and the new visitor."""
    old_id = _legacy_person(runtime)
    response = client.post(
        "/identify", json={"visitor_id": "new-phone-0000001", "email": f" {ADDRESS} "}
    )
    assert response.status_code == 202
    with runtime.sessions() as session:
        people = session.scalars(select(Person)).all()
        owners = {v: p for v, p in session.execute(select(Visitor.id, Visitor.person_id))}
        milestone = session.scalar(select(LifecycleEvent.email_sha256))
    assert [(p.id, p.email_sha256) for p in people] == [(old_id, email_key(ADDRESS))]
    assert owners == {"old-laptop-000001": old_id, "new-phone-0000001": old_id}
    assert milestone == email_key(ADDRESS)


def test_forget_by_the_address_erases_the_old_key_too(client, runtime):
    """Erasure by email finds the person under the key it was stored with."""
    _legacy_person(runtime)
    response = client.post("/privacy/forget", json={"email": ADDRESS}, headers=AUTH)
    assert response.status_code == 200
    removed = response.get_json()["removed"]
    assert (removed["persons"], removed["visitors"], removed["lifecycle_events"]) == (1, 1, 1)
