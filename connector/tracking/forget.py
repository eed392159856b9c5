"""Erase a person (or one visitor) everywhere closedloop put them, and say what went where.

By email: the person with that email hash, all their visitors and everything hanging off them.
By visitor ID: that visitor, and the person it belongs to (with their other visitors).

Four places, one report:

- our tables: visitors, touches, click IDs, consent updates, leads, the person, lifecycle rows
  (deleted), and the buyer's identifiers in sales posted to ``/revenue`` (removed);
- the outbox: the person's identifiers leave every row of theirs, delivered or not, while
  amounts, statuses and dedup keys stay, so a later sync re-plans nothing and nothing of
  theirs is ever sent again (``forget_outbox``);
- the CRM: the write-back properties closedloop wrote on their contact are cleared;
- the destinations that offer a deletion API (GA4's User Deletion API, when switched on).

The local part is one transaction that also queues the outside work (``erasures``), so an
outside system that is down never costs the local erase: it is asked again later. A second
request for the same person finds nothing left and succeeds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.orm import Session

import platforms
from connector.identity import email_key, legacy_email_key
from connector.leadvalue import privacy as lead_privacy
from connector.revenue import privacy as revenue_privacy
from connector.runtime import Runtime
from connector.storage.models import (
    Attribution,
    ClickId,
    Deal,
    Lead,
    LifecycleEvent,
    Person,
    Touchpoint,
    Visitor,
)
from connector.sync.windows import destination_class
from connector.tracking import erasures
from connector.tracking.forget_outbox import scrub
from platforms.base import ErasureSubject

#: Per-visitor and per-touch columns holding the browser IDs destinations receive.
BROWSER_COLUMNS = ("ga_client_id", "ga_session_id", "fbp", "fbc")
#: The ones unique to a browser, so an outbox row carrying one is the person's. A session ID
#: (a start time), a user agent or an IP is shared with others and never used to find rows;
#: on the person's own rows they go with every other identifier.
UNIQUE_BROWSER_COLUMNS = ("ga_client_id", "fbp", "fbc", "hubspotutk")


def erase(
    runtime: Runtime, *, email: str | None = None, visitor_id: str | None = None
) -> dict[str, Any]:
    """Erase the person behind ``email`` or ``visitor_id`` everywhere; the report.

    Raises ``ValueError`` ("field: message") for bad input, before anything is touched.
    """
    if bool(email) == bool(visitor_id):
        raise ValueError("email: give exactly one of email or visitor_id")
    if email and email_key(email) is None:
        raise ValueError("email: is not a valid email address")
    erasures.work(runtime)  # earlier requests' outside work that is due (retries)
    with runtime.sessions.begin() as session:
        removed, outbox, queued = _erase_locally(session, runtime, email, visitor_id)
    erasures.work(runtime, ids=queued)
    places = erasures.report(runtime, queued)
    return {
        "removed": removed,
        "outbox": outbox,
        "places": {name: place.to_json() for name, place in places.items()},
        "complete": all(p.done == p.asked for p in places.values()),
        "outstanding": erasures.outstanding(runtime),
    }


def retry(runtime: Runtime, *, failed: bool = False) -> dict[str, Any]:
    """Work off the outside erasures still due (and those recorded as failed, if asked)."""
    revived = erasures.retry_failed(runtime) if failed else 0
    erasures.work(runtime)
    return {"revived": revived, "outstanding": erasures.outstanding(runtime)}


def _erase_locally(
    session: Session, runtime: Runtime, email: str | None, visitor_id: str | None
) -> tuple[dict[str, int], dict[str, int], list[int]]:
    person_ids: set[int] = set()
    visitor_ids: set[str] = set()
    email_keys: set[str] = set()
    plain_emails: set[str] = set()
    if email:
        key = email_key(email)
        assert key is not None  # checked by the caller
        plain_emails.add(email)
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
    people = session.execute(
        select(
            Person.crm_contact_id,
            Person.email_sha256,
            Person.phone_sha256,
            Person.email,
            Person.phone_e164,
        ).where(Person.id.in_(person_ids))
    ).all()
    contact_ids = sorted({c for c, *_ in people if c and c.isalnum()})  # CRM IDs: LIKE-safe
    email_keys |= {key for _, key, *_ in people if key}
    plain_emails |= {e for *_, e, _ in people if e}
    phones = {p for *_, p in people if p}
    tokens = _person_values(session, runtime, visitor_ids, plain_emails, phones)
    tokens |= email_keys | {h for _, _, h, *_ in people if h}
    deal_ids = _deals(session, contact_ids, visitor_ids)
    sales = revenue_privacy.buyer_sales(session, email_keys, visitor_ids)
    deal_ids |= sales  # sales posted to /revenue are deals too
    deal_ids |= lead_privacy.lead_deals(person_ids, contact_ids)  # lead-stage rows
    outbox = scrub(session, deal_ids, tokens, BROWSER_COLUMNS)
    browser_ids = _browser_ids(session, visitor_ids)
    for name, values in outbox.browser_ids.items():
        browser_ids.setdefault(name, set()).update(values)
    subject = ErasureSubject(
        browser_ids={k: tuple(sorted(v)) for k, v in browser_ids.items() if v},
        external_ids=tuple(sorted(outbox.external_ids)),
    )
    removed = _delete_all(session, person_ids, visitor_ids, email_keys, contact_ids)
    removed["revenue_sales"] = revenue_privacy.strip_buyer(session, sales)
    removed["lead_predictions"] = lead_privacy.forget(session, person_ids, contact_ids)
    queued = erasures.enqueue(session, runtime, contact_ids, subject)
    return removed, {"scrubbed": outbox.scrubbed, "withdrawn": outbox.withdrawn}, queued


def _person_values(
    session: Session,
    runtime: Runtime,
    visitor_ids: set[str],
    plain_emails: set[str],
    phones: set[str],
) -> set[str]:
    """Every value that identifies the person in an outbox row, as each platform sent it."""
    values: set[str] = set(visitor_ids)
    region = runtime.settings.tracking.default_phone_region
    for name in platforms.DESTINATIONS:
        cls = destination_class(name)
        hashing = cls.hashing if cls is not None else None
        if hashing is None:
            continue
        values.update(h for e in plain_emails if (h := hashing.email(e)))
        values.update(h for p in phones if (h := hashing.phone(p, region)))
    if not visitor_ids:
        return values
    ids = sorted(visitor_ids)
    for name in UNIQUE_BROWSER_COLUMNS:
        column = getattr(Visitor, name)
        values.update(v for v in session.scalars(select(column).where(Visitor.id.in_(ids))) if v)
    for name in UNIQUE_BROWSER_COLUMNS:
        if not hasattr(Touchpoint, name):
            continue
        values.update(
            v
            for v in session.scalars(
                select(getattr(Touchpoint, name)).where(Touchpoint.visitor_id.in_(ids))
            )
            if v
        )
    values.update(session.scalars(select(ClickId.value).where(ClickId.visitor_id.in_(ids))))
    touch_clicks = select(Touchpoint.click_ids).where(Touchpoint.visitor_id.in_(ids))
    for clicks in session.scalars(touch_clicks):
        values.update(str(v) for v in (clicks or {}).values() if v)
    return values


def _browser_ids(session: Session, visitor_ids: set[str]) -> dict[str, set[str]]:
    """The person's browser IDs by field, from their visitors and touches."""
    found: dict[str, set[str]] = {}
    if not visitor_ids:
        return found
    ids = sorted(visitor_ids)
    for name in BROWSER_COLUMNS:
        for model, key in ((Visitor, Visitor.id), (Touchpoint, Touchpoint.visitor_id)):
            found.setdefault(name, set()).update(
                v for v in session.scalars(select(getattr(model, name)).where(key.in_(ids))) if v
            )
    return found


def _deals(session: Session, contact_ids: list[str], visitor_ids: set[str]) -> set[str]:
    """The person's deals: associated with a contact of theirs, or attributed to their touches."""
    deal_ids: set[str] = set()
    if contact_ids:
        as_text = cast(Deal.contact_ids, String)
        # contact_ids is a JSON list of strings; match the quoted ID inside its text form,
        # which reads the same on SQLite and PostgreSQL.
        deal_ids.update(
            session.scalars(
                select(Deal.id).where(or_(*(as_text.like(f'%"{cid}"%') for cid in contact_ids)))
            )
        )
    if visitor_ids:
        touches = select(Touchpoint.id).where(Touchpoint.visitor_id.in_(sorted(visitor_ids)))
        deal_ids.update(
            session.scalars(
                select(Attribution.deal_id).where(Attribution.touchpoint_id.in_(touches))
            )
        )
    return deal_ids


def _delete_all(
    session: Session,
    person_ids: set[int],
    visitor_ids: set[str],
    email_keys: set[str],
    contact_ids: list[str],
) -> dict[str, int]:
    touchpoints = select(Touchpoint.id).where(Touchpoint.visitor_id.in_(visitor_ids))
    return {
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


def _run(session: Session, statement: Any) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)
