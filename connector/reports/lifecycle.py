"""MQLs and SQLs per report group, credited to a touch the way the source report credits leads.

Crediting rules (the lead rules of ``connector.reports.sources``, applied to the moment a
contact entered the milestone):

- an MQL (SQL) counts in the range when the contact's ``entered_at`` (the CRM's own
  date-entered time, stored by the lifecycle step) falls in it; one per CRM contact and
  milestone;
- the contact's person is the one keyed by the same hashed normalised email (or, failing that,
  the one whose ``crm_contact_id`` is the contact);
- the credited touch is the person's last touchpoint (on any of their visitors) at or before
  ``entered_at``, or the first one under ``first_click``; with ``ignore_direct`` a Direct touch
  is credited only when the person has no other touch up to that moment;
- contacts with no person, or a person without touchpoints, count on the ``(no journey)`` row,
  so totals always equal what the CRM recorded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import Select, and_, case, func, null, select
from sqlalchemy.orm import Session

from connector.attribution.direct import DIRECT_CHANNEL as DIRECT
from connector.reports.concurrent import begun
from connector.reports.sources import (
    MODELS,
    NO_JOURNEY,
    ReportRange,
    plan_for_reports,
    touch_dimension,
)
from connector.storage.models import LifecycleEvent, Person, Touchpoint, Visitor

MILESTONE_KEYS = {"mql": "mqls", "sql": "sqls"}  # lifecycle_events.stage -> report column


@dataclass(frozen=True)
class CreditedMilestone:
    """One contact's MQL or SQL in the range, with the group its touch is credited to."""

    contact_id: str
    person_id: int | None
    stage: str
    entered_at: datetime
    group: str


def lifecycle_counts(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    model: str = "last_click",
    ignore_direct: bool = True,
) -> dict[str, dict[str, int]]:
    """``{group: {"mqls": n, "sqls": n}}`` for the range; uncredited under ``(no journey)``.

    Groups are the source report's (``touch_dimension(by)``), so the result merges into its
    rows by key. Aggregated in SQL over one windowed join (``_credited``).
    """
    credited = _credited(by, model, rng, ignore_direct).subquery("lifecycle_credit")
    query = select(credited.c.grp, credited.c.stage, func.count()).group_by(
        credited.c.grp, credited.c.stage
    )
    plan_for_reports(session)
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"mqls": 0, "sqls": 0})
    for group, stage, count in session.execute(query):
        out[group if group is not None else NO_JOURNEY][MILESTONE_KEYS[stage]] += int(count)
    return dict(out)


def lifecycle_counts_started(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    model: str = "last_click",
    ignore_direct: bool = True,
) -> Callable[[], dict[str, dict[str, int]]]:
    """``lifecycle_counts``, begun now on PostgreSQL; call the result for the counts.

    Crediting every milestone is the longest query of a source report. On PostgreSQL it runs
    on a connection of its own while the caller runs the report's other queries, so the
    database works on both at once. Elsewhere (or on a session bound to one connection), the
    query runs in the caller's session when the counts are asked for.
    """
    counts = partial(lifecycle_counts, rng=rng, by=by, model=model, ignore_direct=ignore_direct)
    return begun(session, counts)


def credited_milestones(
    session: Session,
    rng: ReportRange,
    *,
    by: str = "channel",
    model: str = "last_click",
    ignore_direct: bool = True,
) -> list[CreditedMilestone]:
    """Every MQL/SQL in the range with its person and credited group (for drill-downs, tests)."""
    credited = _credited(by, model, rng, ignore_direct).subquery("lifecycle_credit")
    query = select(credited).order_by(credited.c.entered_at, credited.c.contact_id)
    plan_for_reports(session)
    return [
        CreditedMilestone(
            contact_id=row.contact_id,
            person_id=row.person_id,
            stage=row.stage,
            entered_at=row.entered_at,
            group=row.grp if row.grp is not None else NO_JOURNEY,
        )
        for row in session.execute(query)
    ]


def add_to_rows(rows: dict[str, dict[str, Any]], counts: dict[str, dict[str, int]]) -> None:
    """Merge ``lifecycle_counts`` into source-report rows (``group -> row``), in place.

    ``rows`` is the report's ``defaultdict(_empty_row)``, so a group that only has milestones
    gets a full empty row. Rows without milestones get 0 instead of None: with stages mapped,
    "no MQLs" is a count.
    """
    for key in counts:
        try:
            rows[key]
        except KeyError:  # a plain dict: start the group from nothing
            rows[key] = {}
    for key, row in rows.items():
        figures = counts.get(key, {})
        for column in MILESTONE_KEYS.values():
            row[column] = (row.get(column) or 0) + figures.get(column, 0)


def lifecycle_totals(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """The totals row's ``mqls`` and ``sqls``."""
    return {
        column: sum(figures.get(column, 0) for figures in counts.values())
        for column in MILESTONE_KEYS.values()
    }


def credited_query(rng: ReportRange, *, by: str, model: str, ignore_direct: bool) -> Select[Any]:
    """Milestones in the range as a query: contact_id, person_id, stage, entered_at, grp.

    For reports that build on the same crediting (``velocity``); ``grp`` NULL: no journey.
    """
    return _credited(by, model, rng, ignore_direct)


def _credited(by: str, model: str, rng: ReportRange, ignore_direct: bool) -> Select[Any]:
    """Milestones in the range with person and credited group (NULL: no journey).

    Set-based: the range's milestones are joined to their person, the person's visitors and
    those visitors' touches up to the milestone, and a window ranks each milestone's touches
    (non-Direct first under ``ignore_direct``, then latest, or earliest under
    ``first_click``; ties by touch ID). Hash joins over the range's milestones: a correlated
    probe per milestone (person lookup, visitors, touches, sort) was 3.1 s of velocity and of
    the MQL/SQL columns at 150k milestones on bench/reports.py, this 1.4 s.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; use one of {', '.join(MODELS)}")
    event = LifecycleEvent
    by_contact = (
        select(Person.crm_contact_id.label("contact_id"), func.min(Person.id).label("person_id"))
        .where(Person.crm_contact_id.is_not(None))
        .group_by(Person.crm_contact_id)
        .subquery("contact_people")
    )
    # The person keyed by the same hashed email (unique), else the lowest ID with the contact.
    person_id = func.coalesce(Person.id, by_contact.c.person_id)
    first = model == "first_click"
    order: list[Any] = []
    if ignore_direct:
        # A NULL channel is not a non-Direct touch either (``!=`` is NULL): ranked after.
        order.append(case((Touchpoint.channel != DIRECT, 0), else_=1))
    order += (
        [Touchpoint.occurred_at.asc(), Touchpoint.id.asc()]
        if first
        else [Touchpoint.occurred_at.desc(), Touchpoint.id.desc()]
    )
    ranked = (
        select(
            event.contact_id.label("contact_id"),
            person_id.label("person_id"),
            event.stage.label("stage"),
            event.entered_at.label("entered_at"),
            case((Touchpoint.id.is_(None), null()), else_=touch_dimension(by)).label("grp"),
            func.row_number()
            .over(partition_by=(event.contact_id, event.stage), order_by=order)
            .label("nth"),
        )
        .select_from(event)
        .outerjoin(Person, Person.email_sha256 == event.email_sha256)
        .outerjoin(by_contact, by_contact.c.contact_id == event.contact_id)
        .outerjoin(Visitor, Visitor.person_id == person_id)
        .outerjoin(
            Touchpoint,
            and_(Touchpoint.visitor_id == Visitor.id, Touchpoint.occurred_at <= event.entered_at),
        )
        .where(
            event.stage.in_(list(MILESTONE_KEYS)),
            event.entered_at >= rng.since,
            event.entered_at < rng.until,
        )
        .subquery("lifecycle_ranked")
    )
    return select(
        ranked.c.contact_id,
        ranked.c.person_id,
        ranked.c.stage,
        ranked.c.entered_at,
        ranked.c.grp,
    ).where(ranked.c.nth == 1)
