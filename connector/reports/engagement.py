"""Engagement columns of the source report: page views, bounces, and GA4's own sessions.

From our own page views (``touchpoints``): a page view inside a running session inherits the
session's source, medium, campaign and channel when it is collected, so page views group by
the same dimension as the session they belong to.

- page views: touchpoints in the range (a session that started just before the range adds
  its later pages, as GA4 counts ``screenPageViews`` by their own time);
- visits: session starts (``is_new_session``) in the range, counted in the same scan;
- a **bounce** is a session with exactly one page view: a session start (``is_new_session``)
  in the range whose next page view of the same visitor (ordered by time, then id) is missing
  or starts another session. Pages up to an hour past the range's end are looked at, so a
  session started at 23:59 on the last day is not a bounce only because its second page came
  after midnight.

GA4's sessions (``sessions_daily``, pulled from the Data API) are shown beside our visits,
never mixed into them; :data:`SESSIONS_NOTE` says why the two differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from connector.storage.models import SessionsDaily, Touchpoint
from connector.tracking.channels import channel_group

#: How far past the range a session's second page view is looked for.
SESSION_TAIL = timedelta(hours=1)

SESSIONS_NOTE = (
    "GA4 sessions come from Google Analytics (Data API) and differ from our visits: GA4 "
    "measures only visitors whose consent lets it (and may model the rest), misses browsers "
    "whose ad or tracking blockers stop its tag, and files a direct return visit under the "
    "last non-direct source it knows. Both start a new session after 30 minutes without a hit."
)


def page_counts(session: Session, rng: Any, dim: ColumnElement[str]) -> list[tuple[Any, ...]]:
    """(group, visits, page views, bounced sessions) for the range, grouped by ``dim``.

    One scan: each page view in the range (and the hour after) with whether the visitor's
    next page view starts a session (``LEAD`` over the visitor's page views in time order);
    visits (session starts in the range) are counted in the same scan rather than another.
    A correlated next-page probe per session start on ``ix_touchpoints_visitor_time`` was
    tried instead of the window: 2.2x slower at a million page views (bench/reports.py).
    """
    visitor: ColumnElement[str] = Touchpoint.visitor_id
    if session.get_bind().dialect.name == "postgresql":
        # Partitioning needs equality only; bytewise order sorts the range's page views
        # without the database locale's collation rules (the sort is this query's cost).
        visitor = visitor.collate("C")
    following = (
        func.lead(Touchpoint.is_new_session)
        .over(partition_by=visitor, order_by=(Touchpoint.occurred_at, Touchpoint.id))
        .label("next_new")
    )
    paged = (
        select(
            dim.label("grp"),
            Touchpoint.is_new_session.label("is_new"),
            Touchpoint.occurred_at.label("at"),
            following,
        )
        .where(
            Touchpoint.occurred_at >= rng.since,
            Touchpoint.occurred_at < rng.until + SESSION_TAIL,
        )
        .subquery("paged")
    )
    in_range = paged.c.at < rng.until
    bounced = and_(
        in_range,
        paged.c.is_new.is_(True),
        or_(paged.c.next_new.is_(None), paged.c.next_new.is_(True)),
    )
    query = (
        select(
            paged.c.grp,
            func.sum(case((and_(in_range, paged.c.is_new.is_(True)), 1), else_=0)),
            func.sum(case((in_range, 1), else_=0)),
            func.sum(case((bounced, 1), else_=0)),
        )
        .group_by(paged.c.grp)
        .having(func.sum(case((in_range, 1), else_=0)) > 0)
    )
    return [
        (group, int(visits), int(views), int(bounces))
        for group, visits, views, bounces in session.execute(query)
    ]


def _ga4_group(by: str) -> Callable[[str, str, str], str] | None:
    """How a GA4 sessions row (source, medium, campaign) maps to a report group, if it can."""
    if by == "channel":
        return lambda s, m, c: channel_group(s or "(direct)", m or "(none)", c)
    if by == "source_medium":
        return lambda s, m, c: f"{s or '(direct)'} / {m or '(none)'}"
    if by == "campaign":
        return lambda s, m, c: c or "(not set)"
    return None  # GA4's sessions report has no keyword


def ga4_sessions(session: Session, rng: Any, by: str) -> dict[str, int] | None:
    """GA4 sessions per group over the range's days; None when none were pulled for it.

    Channels are GA4's default channel group of each row's source/medium/campaign, by the
    same rules our touchpoints are classified with.
    """
    grouping = _ga4_group(by)
    if grouping is None:
        return None
    query = (
        select(
            SessionsDaily.source,
            SessionsDaily.medium,
            SessionsDaily.campaign,
            func.sum(SessionsDaily.sessions),
        )
        .where(SessionsDaily.day >= rng.start.isoformat(), SessionsDaily.day <= rng.end.isoformat())
        .group_by(SessionsDaily.source, SessionsDaily.medium, SessionsDaily.campaign)
    )
    out: dict[str, int] = defaultdict(int)
    seen = False
    for source, medium, campaign, sessions in session.execute(query):
        seen = True
        out[grouping(source, medium, campaign)] += int(sessions or 0)
    return dict(out) if seen else None
