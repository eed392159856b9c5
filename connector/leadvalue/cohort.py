"""Stage entries with the source they are credited to, and the revenue each went on to win.

Sources are credited as the source report credits leads and milestones (one rule for every
report, so a lead value's channel is the channel the reports show): a site lead (the person's
first ``leads`` row) to the last touch of its visitor at or before it, an MQL or SQL to the
person's last touch at or before the CRM's date-entered time (see
``connector.reports.lifecycle``), Direct only when there is no other touch under
``attribution.ignore_direct``; no touch at all is ``(no journey)``.

Revenue is closed-won deal amounts in the learning currency, of deals among whose contacts the
lead's CRM contact is, closed at or after the stage entry and before the end of the window.
A deal with several such contacts at one stage counts once, for the earliest to enter it, so
a deal is never counted twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from connector.reports.lifecycle import credited_milestones
from connector.reports.sources import NO_JOURNEY, ReportRange, credited_group, touch_dimension
from connector.storage.models import Deal, Lead, LifecycleEvent, Person, Touchpoint
from connector.sync.lookups import any_of, rows_for


@dataclass(frozen=True)
class StageEntry:
    """One person entering one lead stage, credited to a source."""

    lead_key: str
    stage: str
    entered_at: datetime
    person_id: int | None
    contact_id: str | None
    channel: str
    campaign: str
    #: The contact's ad-platform lead-form lead ID (``lifecycle_events.crm_lead_id``), if any.
    crm_lead_id: str | None = None


def entries(
    session: Session, since: datetime, until: datetime, *, ignore_direct: bool
) -> list[StageEntry]:
    """Every lead, MQL and SQL entered in ``[since, until)``, credited to channel and campaign."""
    return site_leads(session, since, until, ignore_direct=ignore_direct) + milestones(
        session, since, until, ignore_direct=ignore_direct
    )


def with_lead_ids(session: Session, found: list[StageEntry]) -> list[StageEntry]:
    """``found`` with each CRM contact's stored lead-form lead ID filled in (when it has one).

    The ID comes from the contact's lifecycle rows (any stage: a contact has one lead form),
    so a site lead of a contact the lifecycle pull already saw carries it too.
    """
    contacts = {e.contact_id for e in found if e.contact_id}
    if not contacts:
        return found
    lead_ids: dict[str, str] = {}
    rows = rows_for(
        session,
        contacts,
        lambda chunk, postgres: select(LifecycleEvent.contact_id, LifecycleEvent.crm_lead_id).where(
            any_of(LifecycleEvent.contact_id, chunk, postgres),
            LifecycleEvent.crm_lead_id.is_not(None),
        ),
    )
    for contact_id, lead_id in rows:
        lead_ids.setdefault(contact_id, lead_id)
    return [
        replace(e, crm_lead_id=lead_ids[e.contact_id]) if e.contact_id in lead_ids else e
        for e in found
    ]


def milestones(
    session: Session, since: datetime, until: datetime, *, ignore_direct: bool
) -> list[StageEntry]:
    """MQLs and SQLs (``lifecycle_events``) in the range, one per CRM contact and stage."""
    rng = ReportRange(since.date(), until.date())
    by = {
        dim: {
            (m.contact_id, m.stage): m
            for m in credited_milestones(session, rng, by=dim, ignore_direct=ignore_direct)
        }
        for dim in ("channel", "campaign")
    }
    out = []
    for key, m in by["channel"].items():
        if not since <= m.entered_at < until:
            continue  # the report range is whole days
        campaign = by["campaign"].get(key)
        out.append(
            StageEntry(
                f"c{m.contact_id}",
                m.stage,
                m.entered_at,
                m.person_id,
                m.contact_id,
                m.group,
                campaign.group if campaign is not None else NO_JOURNEY,
            )
        )
    return out


def site_leads(
    session: Session, since: datetime, until: datetime, *, ignore_direct: bool
) -> list[StageEntry]:
    """People whose first lead on the site falls in the range, credited by its visitor."""
    first = (
        select(Lead.person_id, func.min(Lead.occurred_at).label("first_at"))
        .group_by(Lead.person_id)
        .subquery("first_leads")
    )

    def credited(dim: str) -> object:
        before = (
            select(touch_dimension(dim))
            .where(
                Touchpoint.visitor_id == Lead.visitor_id,
                Touchpoint.occurred_at <= Lead.occurred_at,
            )
            .order_by(Touchpoint.occurred_at.desc(), Touchpoint.id.desc())
            .limit(1)
            .correlate(Lead)
        )
        return credited_group(before, ignore_direct)

    query = (
        select(
            Lead.id,
            Lead.person_id,
            Lead.occurred_at,
            Person.crm_contact_id,
            credited("channel").label("channel"),  # type: ignore[attr-defined]
            credited("campaign").label("campaign"),  # type: ignore[attr-defined]
        )
        .join(
            first, and_(first.c.person_id == Lead.person_id, first.c.first_at == Lead.occurred_at)
        )
        .join(Person, Person.id == Lead.person_id)
        .where(first.c.first_at >= since, first.c.first_at < until)
        .order_by(Lead.occurred_at, Lead.id)
    )
    out: dict[int, StageEntry] = {}
    for _, person_id, at, contact_id, channel, campaign in session.execute(query):
        if person_id in out:
            continue  # two leads at the same instant: the first by ID
        out[person_id] = StageEntry(
            f"p{person_id}",
            "lead",
            at,
            person_id,
            contact_id,
            channel or NO_JOURNEY,
            campaign or NO_JOURNEY,
        )
    return list(out.values())


def won_revenue(
    session: Session, found: Iterable[StageEntry], currency: str, until: datetime
) -> dict[tuple[str, str], Decimal]:
    """Revenue per (lead_key, stage): won deals of the lead's contact, closed after entry."""
    by_contact: dict[str, list[StageEntry]] = defaultdict(list)
    earliest: datetime | None = None
    for entry in found:
        if entry.contact_id:
            by_contact[entry.contact_id].append(entry)
            earliest = entry.entered_at if earliest is None else min(earliest, entry.entered_at)
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    if earliest is None:
        return out
    deals = session.execute(
        select(Deal.contact_ids, Deal.amount, Deal.close_time).where(
            Deal.is_won.is_(True),
            Deal.currency == currency.upper(),
            Deal.amount.is_not(None),
            Deal.close_time >= earliest,
            Deal.close_time < until,
        )
    )
    for contact_ids, amount, close_time in deals:
        candidates = [
            e
            for c in contact_ids or ()
            for e in by_contact.get(str(c), ())
            if e.entered_at <= close_time
        ]
        first_per_stage: dict[str, StageEntry] = {}
        for e in sorted(candidates, key=lambda e: (e.entered_at, e.lead_key)):
            first_per_stage.setdefault(e.stage, e)
        for e in first_per_stage.values():
            out[(e.lead_key, e.stage)] += Decimal(amount)
    return out
