"""Re-derive stored touches' source, medium and channel with the current channel rules.

Reports group revenue by the channel stored on each touch, and marketers read them next to
GA4's. When the rules change (migration 0012 brought GA4's exact definition), touches stored
under the old rules would keep old channels forever; this recomputes them from what was
recorded (URL, referrer, click IDs), visitor by visitor in time order, so that a direct page
inside a session keeps the session's source exactly as at collection time. Deals' stored
first/last touch follow from the touches their attribution rows credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, update

from connector.storage.models import Touchpoint
from connector.tracking.channels import parse_source
from connector.tracking.collect import (  # the collector's own session rule and columns
    _session_source,
    touch_source_columns,
)

_tp = Touchpoint.__table__
_DERIVED = ("source", "medium", "campaign", "term", "content", "channel", "is_new_session")


@dataclass(frozen=True)
class _Previous:
    """The visitor's previous touch, shaped as the collector's session rule reads it."""

    occurred_at: datetime
    source: str | None
    medium: str | None
    campaign: str | None
    term: str | None
    content: str | None
    channel: str | None


def rederive_touchpoints(conn: Connection, visitors_per_batch: int = 500) -> int:
    """Recompute every touch's derived columns; how many touches changed."""
    changed = 0
    after = ""
    while True:
        visitor_ids = list(
            conn.execute(
                select(_tp.c.visitor_id)
                .where(_tp.c.visitor_id > after)
                .group_by(_tp.c.visitor_id)
                .order_by(_tp.c.visitor_id)
                .limit(visitors_per_batch)
            ).scalars()
        )
        if not visitor_ids:
            return changed
        updates = _rederived(conn, visitor_ids)
        if updates:
            conn.execute(
                update(_tp)
                .where(_tp.c.id == bindparam("touch_id"))
                .values({name: bindparam(name) for name in _DERIVED}),
                updates,
            )
        changed += len(updates)
        after = visitor_ids[-1]


def _rederived(conn: Connection, visitor_ids: list[str]) -> list[dict[str, Any]]:
    columns = [_tp.c.id, _tp.c.visitor_id, _tp.c.occurred_at, _tp.c.url, _tp.c.referrer]
    columns += [_tp.c.click_ids, *(_tp.c[name] for name in _DERIVED)]
    rows = conn.execute(
        select(*columns)
        .where(_tp.c.visitor_id.in_(visitor_ids))
        .order_by(_tp.c.visitor_id, _tp.c.occurred_at, _tp.c.id)
    )
    updates: list[dict[str, Any]] = []
    previous: dict[str, _Previous] = {}
    for row in rows:
        parsed = parse_source(row.url or "", row.referrer, {}, dict(row.click_ids or {}))
        source, new_session = _session_source(parsed, previous.get(row.visitor_id), row.occurred_at)
        previous[row.visitor_id] = _Previous(
            row.occurred_at,
            source.source,
            source.medium,
            source.campaign,
            source.term,
            source.content,
            source.channel,
        )
        derived = touch_source_columns(source, new_session)
        if derived != {name: getattr(row, name) for name in _DERIVED}:
            updates.append({"touch_id": row.id, **derived})
    return updates


#: A deal's first (last) touch is the one its first-click (last-click) row credits.
_DEAL_TOUCH = """
UPDATE deals SET
  {side}_touch_channel = (
    SELECT t.channel FROM attributions a JOIN touchpoints t ON t.id = a.touchpoint_id
    WHERE a.deal_id = deals.id AND a.{model}_weight > 0 ORDER BY t.occurred_at LIMIT 1),
  {side}_touch_source = (
    SELECT t.source FROM attributions a JOIN touchpoints t ON t.id = a.touchpoint_id
    WHERE a.deal_id = deals.id AND a.{model}_weight > 0 ORDER BY t.occurred_at LIMIT 1)
WHERE EXISTS (
    SELECT 1 FROM attributions a JOIN touchpoints t ON t.id = a.touchpoint_id
    WHERE a.deal_id = deals.id AND a.{model}_weight > 0)
"""


def refresh_deal_touches(conn: Connection) -> None:
    """Deals' stored first/last touch channel and source, from their credited touches."""
    conn.execute(text(_DEAL_TOUCH.format(side="first", model="first_click")))
    conn.execute(text(_DEAL_TOUCH.format(side="last", model="last_click")))
