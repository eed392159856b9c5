"""Resolve stored ad clicks to the campaign, ad group and keyword their platform reports.

Run after a spend pull, for a spend source that declares ``click_kinds`` (see
``platforms.reporting.ClickResolver``): it is asked about the stored clicks of those kinds it
still keeps (``click_days_kept``) and has not resolved. What it answers is kept on
``click_resolutions``; the touch that carried the click and the pages of its session point to
it and take the campaign type's GA4 channel, so their revenue lands on the same campaign and
channel rows as the campaign's spend. A click the platform does
not know is asked again only while the platform may still be catching up on it
(``RECHECK_FOR``), so an unknown click (another account's, a mistyped URL) costs no query for
ever.

After each pull, resolved names are refreshed by ID from the spend rows just pulled, so a
renamed campaign keeps one row in the reports (the platform's current name).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from connector.runtime import Runtime
from connector.storage.models import ClickId, ClickResolution, SpendDaily, Touchpoint, utcnow

#: How long after a click an unknown answer is worth asking again (reporting delay).
RECHECK_FOR = timedelta(days=3)
#: IDs per ``IN (...)`` when loading earlier answers.
CHUNK = 500


def resolve_clicks(runtime: Runtime, source: Any, now: datetime | None = None) -> dict[str, Any]:
    """Ask ``source`` about the clicks it may resolve; store the answers; counts.

    ``source`` is a spend source instance declaring ``click_kinds``, ``click_days_kept`` and
    ``resolve_clicks``; one that declares kinds without the rest is refused.
    """
    kinds = tuple(getattr(source, "click_kinds", ()) or ())
    days_kept = getattr(source, "click_days_kept", None)
    if not kinds:
        return {}
    if not isinstance(days_kept, int) or not callable(getattr(source, "resolve_clicks", None)):
        return {
            "skipped": f"{source.name} declares click_kinds without click_days_kept and "
            "resolve_clicks, so its clicks cannot be resolved"
        }
    now = now or utcnow()
    with runtime.sessions() as session:
        pending = _pending(session, kinds, now - timedelta(days=days_kept))
    if not pending:
        return {"asked": 0, "resolved": 0}
    found = {
        (r.kind, r.value): r
        for r in source.resolve_clicks([(c.kind, c.value, c.first_seen_at) for c in pending])
    }
    with runtime.sessions.begin() as session:
        ids = [c.id for c in pending]
        known = {
            r.click_id: r
            for start in range(0, len(ids), CHUNK)
            for r in session.scalars(
                select(ClickResolution).where(
                    ClickResolution.click_id.in_(ids[start : start + CHUNK])
                )
            )
        }
        for click in pending:
            row = known.get(click.id)
            if row is None:
                row = ClickResolution(click_id=click.id, platform=source.name)
                session.add(row)
            _store(session, row, click, found.get((click.kind, click.value)), now)
    return {"asked": len(pending), "resolved": len(found)}


def _pending(session: Session, kinds: tuple[str, ...], oldest: datetime) -> list[ClickId]:
    """Clicks of ``kinds`` seen since ``oldest`` never asked about, or unknown but recent."""
    query = (
        select(ClickId, ClickResolution.checked_at)
        .outerjoin(ClickResolution, ClickResolution.click_id == ClickId.id)
        .where(
            ClickId.kind.in_(kinds),
            ClickId.first_seen_at >= oldest,
            or_(ClickResolution.id.is_(None), ClickResolution.resolved.is_(False)),
        )
        .order_by(ClickId.first_seen_at)
    )
    clicks = [
        click
        for click, checked in session.execute(query)
        if checked is None or checked < click.first_seen_at + RECHECK_FOR
    ]
    session.expunge_all()
    return clicks


def _store(
    session: Session, row: ClickResolution, click: ClickId, found: Any, now: datetime
) -> None:
    """Record the answer on ``row``; a resolved click's touch takes its campaign's channel."""
    row.touchpoint_id = click.touchpoint_id
    row.checked_at = now
    row.resolved = found is not None
    if found is None:
        return
    for name in (
        "customer_id",
        "campaign_id",
        "campaign",
        "campaign_type",
        "channel",
        "ad_group_id",
        "ad_group",
        "keyword_id",
        "keyword",
        "match_type",
    ):
        setattr(row, name, getattr(found, name))
    if click.touchpoint_id is None:
        return
    session.flush()  # the row's id, for the touches
    values: dict[str, Any] = {"click_resolution_id": row.id}
    if found.channel:
        values["channel"] = found.channel
    session.execute(
        update(Touchpoint).where(_session_of(session, click.touchpoint_id)).values(**values)
    )


def _session_of(session: Session, landing_id: int) -> Any:
    """The landing touch and the later pages of its session (until the visitor's next session).

    Pages inside a session carry the session's source (the collector's rule), so they take the
    click's campaign and channel too; otherwise a journey's last page would keep "(not set)".
    """
    landing = session.execute(
        select(Touchpoint.visitor_id, Touchpoint.occurred_at).where(Touchpoint.id == landing_id)
    ).one_or_none()
    if landing is None:
        return Touchpoint.id == landing_id
    visitor, since = landing
    next_session = session.scalar(
        select(func.min(Touchpoint.occurred_at)).where(
            Touchpoint.visitor_id == visitor,
            Touchpoint.is_new_session.is_(True),
            Touchpoint.occurred_at > since,
        )
    )
    pages = and_(
        Touchpoint.visitor_id == visitor,
        Touchpoint.is_new_session.is_(False),
        Touchpoint.occurred_at >= since,
    )
    if next_session is not None:
        pages = and_(pages, Touchpoint.occurred_at < next_session)
    return or_(Touchpoint.id == landing_id, pages)


def refresh_names(session: Session, platform: str, rows: list[Any]) -> None:
    """Give every stored resolution and spend row of ``platform`` the names just pulled, by ID.

    Reports group by name (shown) but these names come from IDs: one campaign renamed keeps one
    row, and the revenue of its older clicks stays next to its spend.
    """
    campaigns = {r.campaign_id: r.campaign for r in rows if r.campaign_id and r.campaign}
    keywords = {
        (r.ad_group_id, r.keyword_id): r.keyword for r in rows if r.keyword_id and r.keyword
    }
    for campaign_id, name in campaigns.items():
        for table in (ClickResolution, SpendDaily):
            session.execute(
                update(table)
                .where(
                    table.platform == platform,
                    table.campaign_id == campaign_id,
                    table.campaign != name,
                )
                .values(campaign=name)
            )
    ads = {r.ad_id: r.ad for r in rows if getattr(r, "ad_id", "") and getattr(r, "ad", None)}
    for ad_id, name in ads.items():
        for table in (ClickResolution, SpendDaily):
            session.execute(
                update(table)
                .where(table.platform == platform, table.ad_id == ad_id, table.ad != name)
                .values(ad=name)
            )
    for (ad_group_id, keyword_id), name in keywords.items():
        for table in (ClickResolution, SpendDaily):
            session.execute(
                update(table)
                .where(
                    table.platform == platform,
                    table.ad_group_id == ad_group_id,
                    table.keyword_id == keyword_id,
                    table.keyword != name,
                )
                .values(keyword=name)
            )
