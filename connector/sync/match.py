"""Find the people and journeys behind deals, a page at a time, in a handful of queries.

Contacts lead to persons (hashed email, stored CRM contact ID), persons and contact properties
lead to visitors (visitor ID, ``hubspotutk``), and visitors to their touchpoints and click IDs
within the lookback window before the close.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy.orm import Session

from connector.attribution import credited, is_direct
from connector.sync.hashing import google_email, legacy_email
from connector.sync.lookups import in_list, is_postgres, list_param, placeholder
from connector.tracking.schemas import CLICK_ID_KINDS
from platforms.crm import CrmContact

MATCHED = "matched"
NO_CONTACT = "no_contact"
NEVER_TRACKED = "contact_never_tracked"
OUTSIDE_WINDOW = "outside_window"
#: Every click kind the snippet collects reaches journeys; each destination then takes the
#: kinds it declares (``Destination.click_kinds``).
CLICK_KINDS = CLICK_ID_KINDS
#: Click IDs HubSpot itself holds on a contact (named like the kinds, see ``CrmContact``).
CRM_CLICK_KINDS = ("gclid", "fbclid")


# Touch, Click and VisitorInfo are named tuples rather than frozen dataclasses: a sync builds
# one per stored touchpoint and click of every matched visitor, and a frozen dataclass pays an
# object.__setattr__ per field for each. The hot loops build them with ``_new`` (what a named
# tuple's own ``__new__`` does, minus its Python-level call).
_new = tuple.__new__


class Touch(NamedTuple):
    """One touchpoint of a journey, with what the platforms can use from it."""

    id: int
    visitor_id: str
    time: datetime
    channel: str | None
    source: str | None
    click_ids: dict[str, str]
    ga_client_id: str | None
    ga_session_id: str | None
    fbc: str | None
    fbp: str | None
    consent_ad_user_data: bool | None
    consent_ad_personalization: bool | None
    #: The page's URL: Meta's ``event_source_url`` when this is the converting visit.
    url: str | None = None

    @property
    def is_direct(self) -> bool:
        """A Direct visit (typed URL, bookmark): no credit while the journey has other touches."""
        return is_direct(self.channel)


class Click(NamedTuple):
    """An ad click ID with its time (None when only the CRM knew it)."""

    kind: str
    value: str
    time: datetime | None
    touch_id: int | None = None


class VisitorInfo(NamedTuple):
    """Browser-level identifiers, the fallback when touches lack them."""

    id: str
    ga_client_id: str | None
    ga_session_id: str | None
    fbc: str | None
    fbp: str | None
    user_agent: str | None
    consent_ad_user_data: bool | None
    consent_ad_personalization: bool | None
    #: The browser's IP at its last hit while still kept (``tracking.ip_retention_days``).
    client_ip: str | None = None


class ConsentSignal(NamedTuple):
    """A consent update the page sent after a page view (``consent_updates``), with its time."""

    time: datetime
    consent_ad_user_data: bool | None
    consent_ad_personalization: bool | None


@dataclass
class Journey:
    """Everything known about the people behind one deal, up to its close."""

    deal_id: str
    status: str
    contacts: tuple[CrmContact, ...] = ()
    touches: list[Touch] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    visitors: list[VisitorInfo] = field(default_factory=list)
    #: Consent updates up to the close, oldest first.
    consents: list[ConsentSignal] = field(default_factory=list)

    def credited_touches(self, ignore_direct: bool) -> list[Touch]:
        """The touches attribution spreads revenue over (see ``attribution.ignore_direct``).

        Identifiers and consent still come from every touch: dropping a Direct visit from the
        credit must not bring back an older consent state or browser ID.
        """
        return credited(self.touches, _touch_is_direct, ignore_direct=ignore_direct)


def _touch_is_direct(touch: Touch) -> bool:
    return touch.is_direct


@dataclass(frozen=True)
class DealToMatch:
    """The input: a deal's ID, close time and contacts."""

    id: str
    close_time: datetime
    contacts: tuple[CrmContact, ...]


class _Page:
    """One page's query results, indexed for per-deal lookups."""

    def __init__(
        self,
        persons: dict[tuple[str, str], int],
        visitors: list[tuple[VisitorInfo, int | None, str | None]],
        touches: dict[str, list[Touch]],
        clicks: list[tuple[str, str, str, datetime, int | None]],
        consents: dict[str, list[ConsentSignal]] | None = None,
    ) -> None:
        self.by_email = {key: pid for (kind, key), pid in persons.items() if kind == "email"}
        self.by_contact = {key: pid for (kind, key), pid in persons.items() if kind == "contact"}
        self.touches = touches
        self.consents = consents or {}
        self.by_id: dict[str, list[VisitorInfo]] = defaultdict(list)
        self.by_utk: dict[str, list[VisitorInfo]] = defaultdict(list)
        self.by_person: dict[int, list[VisitorInfo]] = defaultdict(list)
        for info, person_id, utk in visitors:
            self.by_id[info.id].append(info)
            if utk:
                self.by_utk[utk].append(info)
            if person_id is not None:
                self.by_person[person_id].append(info)
        self.clicks_by_visitor: dict[str, list[tuple[str, str, str, datetime, int | None]]] = (
            defaultdict(list)
        )
        self.click_times: dict[tuple[str, str], datetime] = {}
        for row in clicks:
            self.clicks_by_visitor[row[0]].append(row)
            self.click_times.setdefault((row[1], row[2]), row[3])


# -- statements and row conversion ---------------------------------------------------------
_VISITOR_COLUMNS = (
    "id, ga_client_id, ga_session_id, fbc, fbp, user_agent, consent_ad_user_data, "
    "consent_ad_personalization, client_ip, person_id, hubspotutk"
)
_TOUCH_COLUMNS = (
    "id, visitor_id, occurred_at, channel, source, {click_ids}, ga_client_id, ga_session_id, "
    "fbc, fbp, consent_ad_user_data, consent_ad_personalization, url"
)
_CLICK_COLUMNS = "visitor_id, kind, value, first_seen_at, touchpoint_id"


class _Statements(NamedTuple):
    persons: str
    visitors: str
    touches: str
    clicks: str
    consents: str


@cache
def _statements(postgres: bool) -> _Statements:
    """The matcher's four statements, one per step; each ``UNION ALL`` branch probes an index.

    The branches are the separate lookups they replace, in the same order, so rows come back
    as they did when each was a query of its own.
    """
    mark = placeholder(postgres)
    # As text on both: psycopg's JSON loader is plain json.loads; orjson is several times faster.
    columns = _TOUCH_COLUMNS.format(click_ids="click_ids::text" if postgres else "click_ids")
    crm_kinds = ", ".join(f"'{k}'" for k in CRM_CLICK_KINDS)
    persons = (
        f"SELECT 'email', id, email_sha256 FROM persons WHERE "
        f"{in_list('email_sha256', postgres)} UNION ALL "
        f"SELECT 'contact', id, crm_contact_id FROM persons WHERE "
        f"{in_list('crm_contact_id', postgres)}"
    )
    visitors = " UNION ALL ".join(
        f"SELECT {_VISITOR_COLUMNS} FROM visitors WHERE {in_list(column, postgres, sql_type)}"
        for column, sql_type in (("id", "text"), ("hubspotutk", "text"), ("person_id", "bigint"))
    )
    touches = (
        f"SELECT {columns} FROM touchpoints WHERE {in_list('visitor_id', postgres)} "
        f"AND occurred_at >= {mark} AND occurred_at <= {mark}"
    )
    clicks = (
        f"SELECT {_CLICK_COLUMNS} FROM click_ids WHERE {in_list('visitor_id', postgres)} "
        f"UNION ALL SELECT {_CLICK_COLUMNS} FROM click_ids "
        f"WHERE kind IN ({crm_kinds}) AND {in_list('value', postgres)}"
    )
    consents = (
        "SELECT visitor_id, occurred_at, consent_ad_user_data, consent_ad_personalization "
        f"FROM consent_updates WHERE {in_list('visitor_id', postgres)} "
        f"AND occurred_at >= {mark} AND occurred_at <= {mark}"
    )
    return _Statements(persons, visitors, touches, clicks, consents)


class _Codec(NamedTuple):
    """What the ORM column types did to raw driver values: times, flags, JSON."""

    time: Callable[[Any], datetime]
    flag: Callable[[Any], bool | None]
    json: Callable[[Any], Any]


def _sqlite_time(value: str) -> datetime:
    """An aware UTC time from SQLite's text, as ``UTCDateTime`` reads it (offsets ignored)."""
    try:
        return datetime.fromisoformat(value + "+00:00")  # much faster than .replace(tzinfo=)
    except ValueError:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _sqlite_flag(value: int | None) -> bool | None:
    """SQLite keeps booleans as 0/1."""
    return None if value is None else bool(value)


def _pg_time(value: datetime) -> datetime:
    """In UTC, as ``UTCDateTime`` gives them (psycopg uses the session's zone, UTC by default)."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _same(value: Any) -> Any:
    return value


_SQLITE = _Codec(_sqlite_time, _sqlite_flag, orjson.loads)
_PG = _Codec(_pg_time, _same, orjson.loads)


def _bound(value: datetime, postgres: bool) -> Any:
    """A time as the driver must get it to compare with stored ones (SQLite compares text)."""
    utc = value.astimezone(UTC)
    return utc if postgres else utc.replace(tzinfo=None).isoformat(" ", "microseconds")


class Matcher:
    """Matches pages of deals against the store; one instance per run."""

    def __init__(self, session: Session, lookback_days: int) -> None:
        self.session = session
        self.lookback = timedelta(days=lookback_days)
        self.postgres = is_postgres(session)
        self.sql = _statements(self.postgres)
        self.codec = _PG if self.postgres else _SQLITE

    def match(self, deals: Sequence[DealToMatch]) -> dict[str, Journey]:
        """A journey (possibly empty, with the reason) for every deal."""
        if not deals:
            return {}
        contacts = [c for d in deals for c in d.contacts]
        persons = self._persons(contacts)
        visitors = self._visitors(contacts, persons)
        visitor_ids = {v[0].id for v in visitors}
        earliest = min(d.close_time for d in deals) - self.lookback
        latest = max(d.close_time for d in deals)
        touches = self._touches(visitor_ids, earliest, latest)
        crm_values = {v for c in contacts for k in CRM_CLICK_KINDS if (v := getattr(c, k))}
        clicks = self._clicks(visitor_ids, crm_values)
        consents = self._consents(visitor_ids, earliest, latest)
        page = _Page(persons, visitors, touches, clicks, consents)
        return {d.id: self._journey(d, page) for d in deals}

    # -- queries ---------------------------------------------------------------------------
    # Fixed statement text run on the session's connection (see ``lookups.in_list``): at a
    # page of 200 deals, compiling IN lists and SQLAlchemy's per-value result types used to
    # cost more than the queries. ``_Codec`` does the few conversions the column types did.
    def _rows(self, sql: str, *lists: Iterable[Any], extra: tuple[Any, ...] = ()) -> list[Any]:
        """The driver's own row tuples: SQLAlchemy's Row objects would cost more than the query.

        Still executed through SQLAlchemy, so connection events (logging, tests) see it.
        """
        params = tuple(list_param(values, self.postgres) for values in lists) + extra
        result = self.session.connection().exec_driver_sql(sql, params)
        try:
            return result.cursor.fetchall()
        finally:
            result.close()

    def _persons(self, contacts: list[CrmContact]) -> dict[tuple[str, str], int]:
        """Person IDs by ('email', hash) and ('contact', CRM ID)."""
        keys = {k for c in contacts if (k := google_email(c.email))}
        keys.update(k for c in contacts if (k := legacy_email(c.email)))  # see migration 0006
        ids = {c.id for c in contacts}
        if not keys and not ids:
            return {}
        return {(kind, key): pid for kind, pid, key in self._rows(self.sql.persons, keys, ids)}

    def _visitors(
        self, contacts: list[CrmContact], persons: dict[tuple[str, str], int]
    ) -> list[tuple[VisitorInfo, int | None, str | None]]:
        """Visitors by ID, ``hubspotutk`` or person, each once."""
        lists = (
            {c.visitor_id for c in contacts if c.visitor_id},
            {c.hubspotutk for c in contacts if c.hubspotutk},
            set(persons.values()),
        )
        if not any(lists):
            return []
        flag = self.codec.flag
        seen: dict[str, tuple[VisitorInfo, int | None, str | None]] = {}
        for vid, gcid, gsid, fbc, fbp, agent, data, ads, ip, pid, utk in self._rows(
            self.sql.visitors, *lists
        ):
            info = _new(VisitorInfo, (vid, gcid, gsid, fbc, fbp, agent, flag(data), flag(ads), ip))
            seen[vid] = (info, pid, utk)
        return list(seen.values())

    def _touches(
        self, visitor_ids: set[str], earliest: datetime, latest: datetime
    ) -> dict[str, list[Touch]]:
        """The visitors' touches between ``earliest`` and ``latest``, by visitor."""
        by_visitor: dict[str, list[Touch]] = defaultdict(list)
        if not visitor_ids:
            return by_visitor
        time, flag, decode = self.codec
        bounds = (_bound(earliest, self.postgres), _bound(latest, self.postgres))
        for tid, vid, at, channel, source, raw, gcid, gsid, fbc, fbp, data, ads, url in self._rows(
            self.sql.touches, visitor_ids, extra=bounds
        ):
            clicks = decode(raw) if raw is not None else None
            ids = {k: str(v) for k, v in clicks.items() if k in CLICK_KINDS and v} if clicks else {}
            touch = (
                tid,
                vid,
                time(at),
                channel,
                source,
                ids,
                gcid,
                gsid,
                fbc,
                fbp,
                flag(data),
                flag(ads),
                url,
            )
            by_visitor[vid].append(_new(Touch, touch))
        return by_visitor

    def _consents(
        self, visitor_ids: set[str], earliest: datetime, latest: datetime
    ) -> dict[str, list[ConsentSignal]]:
        """The visitors' consent updates between ``earliest`` and ``latest``, by visitor."""
        by_visitor: dict[str, list[ConsentSignal]] = defaultdict(list)
        if not visitor_ids:
            return by_visitor
        time, flag = self.codec.time, self.codec.flag
        bounds = (_bound(earliest, self.postgres), _bound(latest, self.postgres))
        for vid, at, data, ads in self._rows(self.sql.consents, visitor_ids, extra=bounds):
            by_visitor[vid].append(ConsentSignal(time(at), flag(data), flag(ads)))
        return by_visitor

    def _clicks(
        self, visitor_ids: set[str], crm_values: set[str]
    ) -> list[tuple[str, str, str, datetime, int | None]]:
        """The visitors' click IDs and those of the CRM's click IDs we have seen, each once."""
        if not visitor_ids and not crm_values:
            return []
        time = self.codec.time
        found = {
            (kind, value): (vid, kind, value, time(seen), tp_id)
            for vid, kind, value, seen, tp_id in self._rows(
                self.sql.clicks, visitor_ids, crm_values
            )
        }
        return list(found.values())

    # -- assembly --------------------------------------------------------------------------
    def _journey(self, deal: DealToMatch, page: _Page) -> Journey:
        if not deal.contacts:
            return Journey(deal.id, NO_CONTACT)
        mine = _visitors_of(deal.contacts, page)
        crm_clicks = [
            (k, v) for c in deal.contacts for k in CRM_CLICK_KINDS if (v := getattr(c, k))
        ]
        if not mine and not crm_clicks:
            return Journey(deal.id, NEVER_TRACKED, deal.contacts)
        start, end = deal.close_time - self.lookback, deal.close_time
        # Click candidates go in this order (it settles ties): stored clicks by visitor, then
        # the touches' own click IDs in time order, then the CRM's.
        found: dict[tuple[str, str], tuple[datetime | None, int | None]] = {}
        touches: list[Touch] = []
        for info in mine:
            touches += [t for t in page.touches.get(info.id, ()) if start <= t.time <= end]
            for _, kind, value, seen_at, tp_id in page.clicks_by_visitor.get(info.id, ()):
                if start <= seen_at <= end:
                    _keep(found, kind, value, seen_at, tp_id)
        touches.sort(key=_TOUCH_ORDER)
        consents = sorted(
            (c for info in mine for c in page.consents.get(info.id, ()) if start <= c.time <= end),
            key=_TIME,
        )
        for t in touches:
            for kind, value in t.click_ids.items():
                _keep(found, kind, value, t.time, t.id)
        for kind, value in crm_clicks:  # the contact properties are named after the kinds
            seen = page.click_times.get((kind, value))
            if seen is None:
                _keep(found, kind, value, None, None)
            elif start <= seen <= end:
                _keep(found, kind, value, seen, None)
        clicks = [_new(Click, (k, v, t, tp)) for (k, v), (t, tp) in found.items()]
        if len(clicks) > 1:
            clicks.sort(key=lambda c: (c.time is not None, c.time or end, c.value))
        status = MATCHED if touches or clicks else (OUTSIDE_WINDOW if mine else NEVER_TRACKED)
        return Journey(deal.id, status, deal.contacts, touches, clicks, mine, consents)


#: Touches in time order, the ID breaking ties: (time, id).
_TOUCH_ORDER = itemgetter(2, 0)
_TIME = itemgetter(0)


def _keep(
    found: dict[tuple[str, str], tuple[datetime | None, int | None]],
    kind: str,
    value: str,
    time: datetime | None,
    touch_id: int | None,
) -> None:
    """Keep one click per (kind, value): the earliest timed one, else the first untimed one.

    Plain tuples until the end: most candidates are duplicates (a touch's click ID is also a
    stored click), so only the survivors become ``Click`` objects.
    """
    old = found.get((kind, value))
    if old is None or (time is not None and (old[0] is None or time < old[0])):
        found[(kind, value)] = (time, touch_id)


def _visitors_of(contacts: tuple[CrmContact, ...], page: _Page) -> list[VisitorInfo]:
    """A deal's visitors, by ID: by visitor ID, ``hubspotutk`` and the contacts' persons."""
    found: dict[str, VisitorInfo] = {}
    for c in contacts:
        for infos in (
            page.by_id.get(c.visitor_id or "", ()),
            page.by_utk.get(c.hubspotutk or "", ()),
        ):
            for info in infos:
                found[info.id] = info
        by_email = page.by_email
        for pid in (
            by_email.get(google_email(c.email) or ""),
            by_email.get(legacy_email(c.email) or ""),  # persons 0006 could not re-key
            page.by_contact.get(c.id),
        ):
            for info in page.by_person.get(pid, ()):  # never None: no such key
                found[info.id] = info
    return [found[vid] for vid in sorted(found)]
