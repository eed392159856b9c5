"""Migration 0006 re-keys Gmail ``+tag`` persons: every journey still matches, none splits.

The database is made by the previous schema (revision 0004) with keys as the old code wrote
them (Gmail dots removed, ``+tag`` kept), then upgraded; the sync's matcher, computing keys
with today's rule from the CRM's addresses, must find every person's visitors.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session

from connector.identity import email_key
from connector.storage import migrate
from connector.storage.db import make_engine
from connector.sync.match import DealToMatch, Matcher
from platforms.crm import CrmContact

PREVIOUS = "0004"
CLOSE = datetime(2026, 11, 20, tzinfo=UTC)


def old_key(folded: str) -> str:
    """A key as written before 0006: SHA-256 of the address with only Gmail dots removed."""
    return hashlib.sha256(folded.encode()).hexdigest()


#: (person id, stored plain email, stored key, CRM contact id, phone) as the old code left them.
PERSONS = [
    (1, "john.doe+promo@gmail.com", old_key("johndoe+promo@gmail.com"), None, None),
    (2, "johndoe+news@gmail.com", old_key("johndoe+news@gmail.com"), None, "+14155550123"),
    (3, "ann.lee@example.com", old_key("ann.lee@example.com"), None, None),
    (4, None, old_key("bob+x@gmail.com"), "C4", None),  # address cleared after write-back
    (5, "jane+crm@googlemail.com", old_key("jane+crm@googlemail.com"), "C5", None),
    (6, "+promo@gmail.com", old_key("+promo@gmail.com"), None, None),  # no Google form now
    (7, None, old_key("maria@gmail.com"), None, None),  # already holds the new key
    (8, "m.a.r.i.a+shop@gmail.com", old_key("maria+shop@gmail.com"), "C8", None),
    (9, "lee+x@gmail.com", old_key("lee+x@gmail.com"), None, None),
    (10, None, old_key("lee@gmail.com"), "C10", "+442079460958"),  # newer holder of the key
    (11, None, old_key("sam+ads@gmail.com"), None, None),  # neither address nor contact ID
]
#: What the CRM holds for each person's contact, and the visitors the journey must reach.
EXPECTED = [
    (CrmContact(id="X1", email="John.Doe+promo@gmail.com"), {"v1", "v2"}),
    (CrmContact(id="X2", email="JohnDoe+news@gmail.com"), {"v1", "v2"}),
    (CrmContact(id="X3", email="ann.lee@example.com"), {"v3"}),
    (CrmContact(id="C4", email="bob+x@gmail.com"), {"v4"}),
    (CrmContact(id="X5", email="jane+crm@googlemail.com"), {"v5"}),
    (CrmContact(id="X7", email="maria@gmail.com"), {"v7", "v8"}),
    (CrmContact(id="X8", email="maria+shop@gmail.com"), {"v7", "v8"}),
    (CrmContact(id="X9", email="lee@gmail.com"), {"v9", "v10"}),
    (CrmContact(id="X11", email="Sam+Ads@gmail.com"), {"v11"}),  # found by its old key
]


def seed_previous_schema(db_url: str):
    """A database at revision 0004 holding the persons above, a visitor, touch and lead each."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, PREVIOUS)
    at = CLOSE - timedelta(days=3)
    with engine.begin() as conn:
        for pid, email, key, contact, phone in PERSONS:
            conn.execute(
                text(
                    "INSERT INTO persons (id, email_sha256, email, crm_contact_id, phone_e164, "
                    "created_at, updated_at) VALUES (:id, :key, :email, :contact, :phone, :at, :at)"
                ),
                {
                    "id": pid,
                    "key": key,
                    "email": email,
                    "contact": contact,
                    "phone": phone,
                    "at": at,
                },
            )
            conn.execute(
                text(
                    "INSERT INTO visitors (id, person_id, first_seen_at, last_seen_at) "
                    "VALUES (:v, :p, :at, :at)"
                ),
                {"v": f"v{pid}", "p": pid, "at": at},
            )
            conn.execute(
                text(
                    "INSERT INTO touchpoints (visitor_id, occurred_at, received_at, url, channel, "
                    "is_new_session) VALUES (:v, :at, :at, 'https://shop.example/', 'Direct', true)"
                ),
                {"v": f"v{pid}", "at": at},
            )
            conn.execute(
                text(
                    "INSERT INTO leads (person_id, visitor_id, kind, occurred_at, crm_status, "
                    "crm_attempts) VALUES (:p, :v, 'form', :at, 'done', 1)"
                ),
                {"p": pid, "v": f"v{pid}", "at": at},
            )
        conn.execute(
            text(
                "INSERT INTO lifecycle_events (contact_id, stage, email_sha256, entered_at, "
                "updated_at) VALUES ('C5', 'mql', :k, :at, :at)"
            ),
            {"k": old_key("jane+crm@googlemail.com"), "at": at},
        )
    return engine


def test_every_journey_still_matches_by_the_new_key(db_url: str):
    """After the upgrade each CRM address finds its person's visitors, merged ones included."""
    engine = seed_previous_schema(db_url)
    migrate.upgrade(engine)
    with Session(engine) as session, session.begin():
        deals = [DealToMatch(f"d{c.id}", CLOSE, (c,)) for c, _ in EXPECTED]
        journeys = Matcher(session, 90).match(deals)
    engine.dispose()
    found = {c.email: {v.id for v in journeys[f"d{c.id}"].visitors} for c, _ in EXPECTED}
    assert found == {c.email: visitors for c, visitors in EXPECTED}
    assert all(len(journeys[f"d{c.id}"].touches) == len(v) for c, v in EXPECTED)


def test_colliding_persons_merge_into_the_oldest_and_nothing_is_lost(db_url: str):
    """Same inbox twice: one person (lowest id) keeps every visitor, lead and detail."""
    engine = seed_previous_schema(db_url)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        persons = {
            row[0]: row[1:]
            for row in conn.execute(
                text("SELECT id, email_sha256, phone_e164, crm_contact_id FROM persons")
            )
        }
        visitors = dict(conn.execute(text("SELECT id, person_id FROM visitors")).all())
        leads = sorted(conn.execute(text("SELECT visitor_id, person_id FROM leads")).all())
        lifecycle = conn.execute(text("SELECT email_sha256 FROM lifecycle_events")).scalar()
    engine.dispose()

    assert sorted(persons) == [1, 3, 4, 5, 6, 7, 9, 11]  # 2 into 1, 8 into 7, 10 into 9
    assert persons[1] == (email_key("johndoe@gmail.com"), "+14155550123", None)
    assert persons[7] == (email_key("maria@gmail.com"), None, "C8")
    assert persons[9] == (email_key("lee@gmail.com"), "+442079460958", "C10")
    assert persons[4][0] == old_key("bob+x@gmail.com")  # no address to re-key: contact ID
    assert persons[6][0] == old_key("+promo@gmail.com")  # no Google form: kept as it was
    merged = {2: 1, 8: 7, 10: 9}
    assert visitors == {f"v{p}": merged.get(p, p) for p, *_ in PERSONS}
    assert leads == sorted((f"v{p}", merged.get(p, p)) for p, *_ in PERSONS)
    assert lifecycle == email_key("jane+crm@googlemail.com")


def test_the_upgrade_runs_again_harmlessly(db_url: str):
    """Re-keyed rows are already in the new form: running the data step twice changes nothing."""
    engine = seed_previous_schema(db_url)
    migrate.upgrade(engine)
    query = text("SELECT id, email_sha256, phone_e164, crm_contact_id FROM persons ORDER BY id")
    with engine.connect() as conn:
        before = conn.execute(query).all()
    config = migrate.alembic_config(engine)
    command.downgrade(config, PREVIOUS)
    command.upgrade(config, "head")
    with engine.connect() as conn:
        after = conn.execute(query).all()
    engine.dispose()
    assert after == before
