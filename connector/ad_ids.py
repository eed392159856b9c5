"""Resolve touches whose landing URL carries an ad platform's own campaign/ad set/keyword/ad IDs.

A spend source that declares ``url_id_params`` (``platforms.reporting.UrlIdSource``; Meta's
``{{campaign.id}}``, ``{{adset.id}}``, ``{{ad.id}}`` macros, Microsoft's ``{CampaignId}``,
``{AdGroupId}``, ``{OrderItemId}``, LinkedIn's ``{{CAMPAIGN_ID}}``) fills those parameters with
its IDs when an ad is clicked. After its spend pull, the landing touches of the pulled days (a
day of margin either side for the account's time zone) that no click resolution claimed yet are
read: a numeric value that is the ID of an ad, keyword, ad set or campaign in that platform's
spend rows puts the touch (and the later pages of its session) on that ad's resolution, so its
revenue groups with the spend by ID, with the platform's current names and its spend rows'
channel (a Microsoft Audience campaign is Display). The most specific match wins (ad or keyword,
then ad set, then campaign); an ID found in no spend row resolves nothing, so a parameter
another tool also uses cannot claim a touch by mistake. A touch without a match is read again on
the next pull of its day (spend may arrive later).

One resolution row per platform and campaign/ad set/keyword/ad (``click_id`` NULL), shared by
every touch that carried those IDs; ``connector.clicks.refresh_names`` renames it with the
spend.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from connector.clicks import _session_of
from connector.runtime import Runtime
from connector.storage.models import ClickResolution, SpendDaily, Touchpoint, utcnow
from connector.tracking.channels import query_params

#: IDs per ``IN (...)`` when reading spend rows.
CHUNK = 500
Key = tuple[str, str, str, str]  # campaign_id, ad_group_id, keyword_id, ad_id


def resolve_url_ids(runtime: Runtime, source: Any, start: date, end: date) -> dict[str, int]:
    """Link the unresolved landing touches of [start, end] whose URL IDs ``source`` spent on."""
    params = tuple(getattr(source, "url_id_params", ()) or ())
    if not params:
        return {}
    since = datetime.combine(start - timedelta(days=1), time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=2), time.min, tzinfo=UTC)
    with runtime.sessions.begin() as session:
        touches = _touches_with_ids(session, params, since, until)
        if not touches:
            return {"with_ids": 0, "resolved": 0}
        wanted = set().union(*touches.values())
        keys, names, channels = _spent_on(session, source.name, wanted)
        rows = _resolution_rows(session, source.name)
        default = (getattr(source, "traffic", None) or (None, None, None))[2]
        resolved = 0
        for touch_id, ids in touches.items():
            key = _best(ids, keys)
            if key is None:
                continue
            row = rows.get(key)
            channel = channels.get(key[0]) or default
            if row is None:
                row = rows[key] = _new_row(source.name, key, names, channel)
                session.add(row)
                session.flush()  # its id, for the touches
            values: dict[str, Any] = {"click_resolution_id": row.id}
            if channel:
                values["channel"] = channel
            session.execute(
                update(Touchpoint).where(_session_of(session, touch_id)).values(**values)
            )
            resolved += 1
    return {"with_ids": len(touches), "resolved": resolved}


def _touches_with_ids(
    session: Session, params: tuple[str, ...], since: datetime, until: datetime
) -> dict[int, set[str]]:
    """Unclaimed landing touches in the window whose URL has a numeric value in ``params``."""
    query = select(Touchpoint.id, Touchpoint.url).where(
        Touchpoint.is_new_session.is_(True),
        Touchpoint.click_resolution_id.is_(None),
        Touchpoint.occurred_at >= since,
        Touchpoint.occurred_at < until,
        or_(*(Touchpoint.url.icontains(f"{p}=", autoescape=True) for p in params)),
    )
    touches: dict[int, set[str]] = {}
    for touch_id, url in session.execute(query):
        found = query_params(url)
        ids = {v for p in params if (v := found.get(p, "").strip()).isdigit()}
        if ids:
            touches[touch_id] = ids
    return touches


def _spent_on(
    session: Session, platform: str, ids: set[str]
) -> tuple[dict[str, Key], dict[str, dict[str, str]], dict[str, str]]:
    """Each of ``ids`` that is a campaign, ad set, keyword or ad in the spend rows -> its key.

    Also the latest name of each campaign/ad set/keyword/ad found (rows read oldest day
    first) and the latest channel of each campaign.
    """
    keys: dict[str, Key] = {}
    names: dict[str, dict[str, str]] = {"campaign": {}, "ad_group": {}, "keyword": {}, "ad": {}}
    channels: dict[str, str] = {}
    listed = sorted(ids)
    for at in range(0, len(listed), CHUNK):
        chunk = listed[at : at + CHUNK]
        query = (
            select(
                SpendDaily.campaign_id,
                SpendDaily.campaign,
                SpendDaily.ad_group_id,
                SpendDaily.ad_group,
                SpendDaily.keyword_id,
                SpendDaily.keyword,
                SpendDaily.ad_id,
                SpendDaily.ad,
                SpendDaily.channel,
            )
            .where(
                SpendDaily.platform == platform,
                or_(
                    SpendDaily.campaign_id.in_(chunk),
                    SpendDaily.ad_group_id.in_(chunk),
                    SpendDaily.keyword_id.in_(chunk),
                    SpendDaily.ad_id.in_(chunk),
                ),
            )
            .order_by(SpendDaily.day)
        )
        for row in session.execute(query):
            campaign_id, campaign, ad_group_id, ad_group, keyword_id, keyword, ad_id, ad, chan = row
            keys[campaign_id] = (campaign_id, "", "", "")
            if ad_group_id:
                keys[ad_group_id] = (campaign_id, ad_group_id, "", "")
            if keyword_id:
                keys[keyword_id] = (campaign_id, ad_group_id, keyword_id, "")
            if ad_id:
                keys[ad_id] = (campaign_id, ad_group_id, "", ad_id)
            if chan:
                channels[campaign_id] = chan
            for level, key, name in (
                ("campaign", campaign_id, campaign),
                ("ad_group", ad_group_id, ad_group),
                ("keyword", keyword_id, keyword),
                ("ad", ad_id, ad),
            ):
                if key and name:
                    names[level][key] = name
    return keys, names, channels


def _best(ids: set[str], keys: dict[str, Key]) -> Key | None:
    """The touch's most specific spend key: an ad or keyword, else an ad set, else a campaign."""
    found = [keys[i] for i in ids if i in keys]
    if not found:
        return None
    return max(found, key=lambda k: (bool(k[3] or k[2]), bool(k[1]), k))


def _resolution_rows(session: Session, platform: str) -> dict[Key, ClickResolution]:
    """The platform's URL-resolved rows (no click), by campaign/ad set/keyword/ad."""
    query = select(ClickResolution).where(
        ClickResolution.platform == platform, ClickResolution.click_id.is_(None)
    )
    return {
        (r.campaign_id, r.ad_group_id, r.keyword_id, r.ad_id): r for r in session.scalars(query)
    }


def _new_row(
    platform: str, key: Key, names: dict[str, dict[str, str]], channel: str | None
) -> ClickResolution:
    campaign_id, ad_group_id, keyword_id, ad_id = key
    return ClickResolution(
        click_id=None,
        platform=platform,
        resolved=True,
        checked_at=utcnow(),
        campaign_id=campaign_id,
        campaign=names["campaign"].get(campaign_id),
        channel=channel,
        ad_group_id=ad_group_id,
        ad_group=names["ad_group"].get(ad_group_id),
        keyword_id=keyword_id,
        keyword=names["keyword"].get(keyword_id),
        ad_id=ad_id,
        ad=names["ad"].get(ad_id),
    )
