"""Store page views: visitors, touchpoints and click IDs, a batch of hits per transaction.

This is the hot path (every page view of every site). A batch costs four statements whatever
its size: one read of each visitor's last touch (for sessions), one upsert of the visitors, one
insert of the touchpoints, one insert of the click IDs; on PostgreSQL the three writes are one
statement (:mod:`connector.tracking.pgwrite`). Statements are built once per dialect and run
with bound parameters, so SQLAlchemy's compiled cache always hits. Upserts instead of
read-modify-write mean two workers storing the same new visitor cannot collide, and a click ID
keeps the time it was *first* seen. A batch is one transaction (or, on PostgreSQL, one write
statement): all of it or none of it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    ARRAY,
    Connection,
    Engine,
    String,
    and_,
    bindparam,
    func,
    select,
    true,
)

from connector.storage.models import ClickId, ConsentUpdate, Touchpoint, Visitor
from connector.tracking import columns, drops
from connector.tracking.channels import Source, click_ids_in, parse_source, query_params
from connector.tracking.pgwrite import MERGED as _MERGED
from connector.tracking.pgwrite import store_pg
from connector.tracking.schemas import PageView
from platforms import BROWSER_COOKIES, load

SESSION_GAP = timedelta(minutes=30)
#: Client clocks are trusted within this window; outside it the server's time is used.
CLOCK_PAST, CLOCK_FUTURE = timedelta(days=1), timedelta(minutes=5)

_visitors, _touchpoints, _click_ids = Visitor.__table__, Touchpoint.__table__, ClickId.__table__
_consent_updates = ConsentUpdate.__table__


@dataclass(frozen=True)
class Hit:
    """A validated page view with what the request adds: receive time and user agent."""

    page_view: PageView
    received_at: datetime
    user_agent: str | None = None
    max_past: timedelta = CLOCK_PAST
    #: The client's IP (see :mod:`connector.tracking.clientip`); None when none is kept.
    client_ip: str | None = None


def event_time(ts_ms: int | None, now: datetime, max_past: timedelta = CLOCK_PAST) -> datetime:
    """The client's timestamp if within ``max_past`` (config) of ``now``, else ``now``."""
    if ts_ms is None:
        return now
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    return when if now - max_past <= when <= now + CLOCK_FUTURE else now


@functools.cache
def _last_touches(dialect_name: str) -> Any:
    """Each wanted visitor's newest touchpoint, built once per dialect.

    On PostgreSQL the visitor IDs go in as one array parameter, so the read has one parameter
    and psycopg can prepare and cache it, with one backward index step per visitor instead of
    aggregating all of its touches.
    """
    tp = _touchpoints.c
    columns = (tp.id, tp.visitor_id, tp.occurred_at, tp.source, tp.medium, tp.campaign)
    columns += (tp.term, tp.content, tp.channel)
    if dialect_name == "postgresql":
        wanted_ids = func.unnest(bindparam("visitor_ids", type_=ARRAY(String)))
        ids = wanted_ids.table_valued("visitor_id").render_derived(name="wanted")
        newest = (
            select(*columns)
            .where(tp.visitor_id == ids.c.visitor_id)
            .order_by(tp.occurred_at.desc(), tp.id.desc())
            .limit(1)
            .lateral("newest")
        )
        return select(newest).select_from(ids).join(newest, true())
    latest = (
        select(tp.visitor_id, func.max(tp.occurred_at).label("at"))
        .where(tp.visitor_id.in_(bindparam("visitor_ids", expanding=True)))
        .group_by(tp.visitor_id)
        .subquery()
    )
    newest_of_each = and_(tp.visitor_id == latest.c.visitor_id, tp.occurred_at == latest.c.at)
    return select(*columns).join_from(_touchpoints, latest, newest_of_each)


@dataclass(frozen=True)
class _SqliteWrites:
    """The three writes of a batch on SQLite (PostgreSQL makes them one: :func:`store_pg`)."""

    upsert_visitors: Any
    insert_touchpoints: Any
    insert_click_ids: Any


@functools.cache
def _sqlite_writes() -> _SqliteWrites:
    from sqlalchemy.dialects import sqlite

    upsert = sqlite.insert(_visitors)
    merged = {name: func.coalesce(upsert.excluded[name], _visitors.c[name]) for name in _MERGED}
    return _SqliteWrites(
        upsert_visitors=upsert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "last_seen_at": func.max(upsert.excluded.last_seen_at, _visitors.c.last_seen_at),
                "first_seen_at": func.min(upsert.excluded.first_seen_at, _visitors.c.first_seen_at),
                **merged,
            },
        ),
        insert_touchpoints=_touchpoints.insert().returning(
            _touchpoints.c.id, sort_by_parameter_order=True
        ),
        insert_click_ids=sqlite.insert(_click_ids).on_conflict_do_nothing(
            index_elements=["kind", "value"]
        ),
    )


def record_page_view(
    engine: Engine, hit: PageView, *, now: datetime, user_agent: str | None = None
) -> int:
    """Store one page view on its own; the touchpoint's ID."""
    return record_page_views(engine, [Hit(hit, now, user_agent)])[0]


def record_page_views(engine: Engine, hits: list[Hit]) -> list[int]:
    """Store ``hits`` (in order) in one transaction; their touchpoint IDs."""
    return store_prepared(engine, [prepare(hit) for hit in hits])


def store_prepared(bind: Engine | Connection, prepared: list[dict[str, Any]]) -> list[int]:
    """Store hits already passed through :func:`prepare`, in one transaction.

    ``bind`` may be a connection the caller keeps (the hit writer does, to skip the pool's
    checkout and ping per batch); it must not be in a transaction.
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return _store(conn, prepared)
    with bind.begin():
        return _store(bind, prepared)


def _store(conn: Connection, prepared: list[dict[str, Any]]) -> list[int]:
    """Consent updates first, then page views; each hit's row ID, in order.

    Consent updates go first because they are the part that may repeat harmlessly: if the page
    views fail, the writer retries hits one by one, and a consent update stored twice says the
    same thing twice, whereas a page view stored twice would count twice.
    """
    updates = [p for p in prepared if "consent" in p]
    if not updates:
        ids = _store_page_views(conn, prepared)
    else:
        update_ids = iter(store_consent_updates(conn, updates))
        views = [p for p in prepared if "consent" not in p]
        view_ids = iter(_store_page_views(conn, views) if views else [])
        ids = [next(update_ids) if "consent" in p else next(view_ids) for p in prepared]
    if any(p["dropped"] for p in prepared):
        drops.count(conn, [r for p in prepared for r in p["dropped"]], prepared[0]["at"])
    return ids


def _store_page_views(conn: Connection, prepared: list[dict[str, Any]]) -> list[int]:
    pg = conn.dialect.name == "postgresql"
    visitor_ids = sorted({p["visitor"]["id"] for p in prepared})
    last: dict[str, Any] = {}
    for row in conn.execute(_last_touches(conn.dialect.name), {"visitor_ids": visitor_ids}):
        if row.visitor_id not in last or row.id > last[row.visitor_id].id:
            last[row.visitor_id] = row
    touch_rows = []
    for p in prepared:
        source, new_session = _session_source(p["parsed"], last.get(p["visitor_id"]), p["at"])
        row = {**p["touchpoint"], **touch_source_columns(source, new_session)}
        touch_rows.append(row)
        last[p["visitor_id"]] = _LastTouch(p["at"], source)
    visitors = _merge_visitors([p["visitor"] for p in prepared])
    if pg:  # one statement for all three writes
        return store_pg(conn, visitors, touch_rows)
    sql = _sqlite_writes()
    conn.execute(sql.upsert_visitors, visitors)
    ids = list(conn.execute(sql.insert_touchpoints, touch_rows).scalars())
    clicks: dict[tuple[str, str], dict[str, Any]] = {}
    for p, touchpoint_id in zip(prepared, ids, strict=True):
        for kind, value in p["click_ids"].items():
            clicks.setdefault(
                (kind, value),
                {
                    "visitor_id": p["visitor_id"],
                    "kind": kind,
                    "value": value,
                    "first_seen_at": p["at"],
                    "touchpoint_id": touchpoint_id,
                },
            )
    if clicks:
        conn.execute(sql.insert_click_ids, list(clicks.values()))
    return ids


def store_consent_updates(conn: Connection, prepared: list[dict[str, Any]]) -> list[int]:
    """Upsert the visitors (consent, cookies, IP) and record each update with its time."""
    visitors = _merge_visitors([p["visitor"] for p in prepared])
    if conn.dialect.name == "postgresql":
        store_pg(conn, visitors, [])
    else:
        conn.execute(_sqlite_writes().upsert_visitors, visitors)
    insert = _consent_updates.insert().returning(
        _consent_updates.c.id, sort_by_parameter_order=True
    )
    return list(conn.execute(insert, [p["consent"] for p in prepared]).scalars())


@dataclass(frozen=True)
class _LastTouch:
    """The previous touch of a visitor within the batch, shaped like a last-touch row."""

    occurred_at: datetime
    src: Source

    def __getattr__(self, name: str) -> Any:
        return getattr(self.src, name)


def prepare(hit: Hit) -> dict[str, Any]:
    """Everything about one hit that needs no database (done by the request's own thread)."""
    view, now = hit.page_view, hit.received_at
    occurred = event_time(view.ts, now, hit.max_past)
    click_ids = view.click_ids.model_dump(exclude_none=True) if view.click_ids else {}
    click_ids = columns.fit_click_ids({**click_ids, **click_ids_in(query_params(view.url))})
    utm = view.utm.model_dump() if view.utm else {}
    consent = view.consent
    ad_user_data = consent.ad_user_data if consent else None
    ad_personalization = consent.ad_personalization if consent else None
    cookies, dropped = browser_cookies(
        {"fbc": view.fbc, "fbp": view.fbp}, click_ids, occurred, ad_user_data
    )
    fbc, fbp = cookies.get("fbc"), cookies.get("fbp")
    # No IP kept for a visitor who denied ad_user_data: it would only serve ad matching.
    ip = hit.client_ip if ad_user_data is not False else None
    visitor = {
        "id": view.visitor_id,
        "first_seen_at": occurred,
        "last_seen_at": occurred,
        "ga_client_id": view.ga_client_id,
        "ga_session_id": view.ga_session_id,
        "fbp": fbp,
        "fbc": fbc,
        "hubspotutk": view.hubspotutk,
        "user_agent": (hit.user_agent or None) and hit.user_agent[:512],
        "consent_ad_user_data": ad_user_data,
        "consent_ad_personalization": ad_personalization,
        "client_ip": ip,
        "client_ip_at": occurred if ip else None,
    }
    if view.event == "consent":
        return {
            "visitor_id": view.visitor_id,
            "at": occurred,
            "visitor": visitor,
            "consent": {
                "visitor_id": view.visitor_id,
                "occurred_at": occurred,
                "consent_ad_user_data": ad_user_data,
                "consent_ad_personalization": ad_personalization,
            },
            "dropped": dropped,
        }
    touchpoint = {
        "visitor_id": view.visitor_id,
        "occurred_at": occurred,
        "received_at": now,
        "url": view.url,
        "path": (urlsplit(view.url).path or "/")[:2048],
        "referrer": view.referrer,
        "title": view.title,
        "click_ids": click_ids or None,
        "ga_client_id": view.ga_client_id,
        "ga_session_id": view.ga_session_id,
        "fbp": fbp,
        "fbc": fbc,
        "consent_ad_user_data": ad_user_data,
        "consent_ad_personalization": ad_personalization,
    }
    return {
        "visitor_id": view.visitor_id,
        "at": occurred,
        "parsed": columns.fit_source(parse_source(view.url, view.referrer, utm, click_ids)),
        "click_ids": click_ids,
        "visitor": columns.fit_visitor(visitor),
        "touchpoint": columns.fit_touchpoint(touchpoint),
        "dropped": dropped,
    }


@functools.cache
def _cookie_rules() -> tuple[Any, ...]:
    """Each platform's page-view cookie rule (``platforms.BROWSER_COOKIES``), loaded once."""
    return tuple(load(path) for path in BROWSER_COOKIES.values())


def browser_cookies(
    values: dict[str, str | None],
    click_ids: dict[str, str],
    seen_at: datetime,
    ad_user_data: bool | None,
) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """The platforms' browser cookies of a hit as they should be stored, and what was dropped.

    Each platform checks and renews its own cookies (Meta: a new fbclid replaces ``_fbc``);
    a malformed value is dropped with a reason, never stored and never a refused page view.
    """
    out = dict(values)
    dropped: list[str] = []
    for rule in _cookie_rules():
        kept, reasons = rule(out, click_ids, seen_at, ad_user_data)
        out.update(kept)
        dropped.extend(reasons)
    return out, tuple(dropped)


def _merge_visitors(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per visitor (an upsert may not touch a row twice): later values win."""
    merged: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen = merged.get(row["id"])
        if seen is None:
            merged[row["id"]] = dict(row)
            continue
        seen["first_seen_at"] = min(seen["first_seen_at"], row["first_seen_at"])
        seen["last_seen_at"] = max(seen["last_seen_at"], row["last_seen_at"])
        for name in _MERGED:
            if row[name] is not None:
                seen[name] = row[name]
    return [merged[key] for key in sorted(merged)]  # fixed order: no upsert deadlocks


def touch_source_columns(source: Source, new_session: bool) -> dict[str, Any]:
    """A touchpoint's source columns: what the collector stores and a re-derivation rewrites."""
    return {
        "source": source.source,
        "medium": source.medium,
        "campaign": source.campaign,
        "term": source.term,
        "content": source.content,
        "channel": source.channel,
        "is_new_session": new_session,
    }


def _session_source(parsed: Source, last: Any, occurred: datetime) -> tuple[Source, bool]:
    """The page view's source and whether it starts a session (GA-style 30-minute sessions).

    A direct or internal page view inside a running session keeps the session's source, so
    that a click from an ad followed by three internal pages is one paid visit, not one paid
    and three direct ones.
    """
    in_session = last is not None and abs(occurred - last.occurred_at) <= SESSION_GAP
    if not in_session:
        return parsed, True
    if not parsed.explicit:
        inherited = Source(
            last.source or "(direct)",
            last.medium or "(none)",
            last.campaign,
            last.term,
            last.content,
            last.channel,
        )
        return inherited, False
    same = (parsed.source, parsed.medium, parsed.campaign) == (
        last.source,
        last.medium,
        last.campaign,
    )
    return parsed, not same
