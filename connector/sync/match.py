"""Find the people and journeys behind deals, a page at a time, in a handful of queries.

Contacts lead to persons (hashed email, stored CRM contact ID), persons and contact properties
lead to visitors (visitor ID, ``hubspotutk``), and visitors to their touchpoints and click IDs
within the lookback window before the close.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.attribution import credited, is_direct
from connector.storage.models import ClickId, Person, Touchpoint, Visitor
from connector.sync.hashing import google_email
from connector.sync.lookups import any_of, rows_for
from platforms.crm import CrmContact

MATCHED = "matched"
NO_CONTACT = "no_contact"
NEVER_TRACKED = "contact_never_tracked"
OUTSIDE_WINDOW = "outside_window"
CLICK_KINDS = ("gclid", "gbraid", "wbraid", "fbclid")
#: Click IDs HubSpot itself holds on a contact (named like the kinds, see ``CrmContact``).
CRM_CLICK_KINDS = ("gclid", "fbclid")


# Touch, Click and VisitorInfo are named tuples rather than frozen dataclasses: a sync builds
# one per stored touchpoint and click of every matched visitor, and a frozen dataclass pays an
# object.__setattr__ per field for each.


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


@dataclass
class Journey:
    """Everything known about the people behind one deal, up to its close."""

    deal_id: str
    status: str
    contacts: tuple[CrmContact, ...] = ()
    touches: list[Touch] = field(default_factory=list)
    clicks: list[Click] = field(default_factory=list)
    visitors: list[VisitorInfo] = field(default_factory=list)

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
    ) -> None:
        self.persons = persons
        self.touches = touches
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


class Matcher:
    """Matches pages of deals against the store; one instance per run."""

    def __init__(self, session: Session, lookback_days: int) -> None:
        self.session = session
        self.lookback = timedelta(days=lookback_days)

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
        crm_values = {v for c in contacts for k in ("gclid", "fbclid") if (v := getattr(c, k))}
        page = _Page(persons, visitors, touches, self._clicks(visitor_ids, crm_values))
        return {d.id: self._journey(d, page) for d in deals}

    # -- queries ---------------------------------------------------------------------------
    def _persons(self, contacts: list[CrmContact]) -> dict[tuple[str, str], int]:
        """Person IDs by ('email', hash) and ('contact', CRM ID)."""
        keys = {k for c in contacts if (k := google_email(c.email))}
        ids = {c.id for c in contacts}
        found: dict[tuple[str, str], int] = {}
        cols = (Person.id, Person.email_sha256, Person.crm_contact_id)
        for pid, sha, _ in rows_for(
            self.session,
            keys,
            lambda ch, pg: select(*cols).where(any_of(Person.email_sha256, ch, pg)),
        ):
            found[("email", sha)] = pid
        for pid, _, cid in rows_for(
            self.session,
            ids,
            lambda ch, pg: select(*cols).where(any_of(Person.crm_contact_id, ch, pg)),
        ):
            found[("contact", cid)] = pid
        return found

    def _visitors(
        self, contacts: list[CrmContact], persons: dict[tuple[str, str], int]
    ) -> list[tuple[VisitorInfo, int | None, str | None]]:
        cols = (
            Visitor.id,
            Visitor.ga_client_id,
            Visitor.ga_session_id,
            Visitor.fbc,
            Visitor.fbp,
            Visitor.user_agent,
            Visitor.consent_ad_user_data,
            Visitor.consent_ad_personalization,
            Visitor.person_id,
            Visitor.hubspotutk,
        )
        seen: dict[str, tuple[VisitorInfo, int | None, str | None]] = {}
        lookups = (
            (Visitor.id, {c.visitor_id for c in contacts if c.visitor_id}),
            (Visitor.hubspotutk, {c.hubspotutk for c in contacts if c.hubspotutk}),
            (Visitor.person_id, set(persons.values())),
        )
        for column, values in lookups:
            for row in rows_for(
                self.session,
                values,
                lambda ch, pg, col=column: select(*cols).where(any_of(col, ch, pg)),
            ):
                seen[row[0]] = (VisitorInfo(*row[:8]), row[8], row[9])
        return list(seen.values())

    def _touches(
        self, visitor_ids: set[str], earliest: datetime, latest: datetime
    ) -> dict[str, list[Touch]]:
        cols = (
            Touchpoint.id,
            Touchpoint.visitor_id,
            Touchpoint.occurred_at,
            Touchpoint.channel,
            Touchpoint.source,
            Touchpoint.click_ids,
            Touchpoint.ga_client_id,
            Touchpoint.ga_session_id,
            Touchpoint.fbc,
            Touchpoint.fbp,
            Touchpoint.consent_ad_user_data,
            Touchpoint.consent_ad_personalization,
        )
        by_visitor: dict[str, list[Touch]] = defaultdict(list)

        def stmt(chunk: list[str], postgres: bool) -> Any:
            return select(*cols).where(
                any_of(Touchpoint.visitor_id, chunk, postgres),
                Touchpoint.occurred_at >= earliest,
                Touchpoint.occurred_at <= latest,
            )

        for row in rows_for(self.session, visitor_ids, stmt):
            ids = {k: str(v) for k, v in (row[5] or {}).items() if k in CLICK_KINDS and v}
            by_visitor[row[1]].append(Touch(row[0], row[1], row[2], row[3], row[4], ids, *row[6:]))
        return by_visitor

    def _clicks(
        self, visitor_ids: set[str], crm_values: set[str]
    ) -> list[tuple[str, str, str, datetime, int | None]]:
        cols = (
            ClickId.visitor_id,
            ClickId.kind,
            ClickId.value,
            ClickId.first_seen_at,
            ClickId.touchpoint_id,
        )
        found = {
            row[:3]: row
            for row in rows_for(
                self.session,
                visitor_ids,
                lambda ch, pg: select(*cols).where(any_of(ClickId.visitor_id, ch, pg)),
            )
        }
        for row in rows_for(
            self.session,
            crm_values,
            lambda ch, pg: select(*cols).where(
                ClickId.kind.in_(CRM_CLICK_KINDS), any_of(ClickId.value, ch, pg)
            ),
        ):
            found.setdefault(row[:3], row)
        return list(found.values())

    # -- assembly --------------------------------------------------------------------------
    def _journey(self, deal: DealToMatch, page: _Page) -> Journey:
        if not deal.contacts:
            return Journey(deal.id, NO_CONTACT)
        person_ids = {
            pid
            for c in deal.contacts
            for key in (("email", google_email(c.email) or ""), ("contact", c.id))
            if (pid := page.persons.get(key)) is not None
        }
        found_visitors: dict[str, VisitorInfo] = {}
        for c in deal.contacts:
            for index, key in ((page.by_id, c.visitor_id), (page.by_utk, c.hubspotutk)):
                for info in index.get(key or "", ()):
                    found_visitors[info.id] = info
        for pid in person_ids:
            for info in page.by_person.get(pid, ()):
                found_visitors[info.id] = info
        mine = sorted(found_visitors.values(), key=lambda v: v.id)
        crm_clicks = [
            (k, v) for c in deal.contacts for k in ("gclid", "fbclid") if (v := getattr(c, k))
        ]
        if not mine and not crm_clicks:
            return Journey(deal.id, NEVER_TRACKED, deal.contacts)
        start, end = deal.close_time - self.lookback, deal.close_time
        my_ids = [v.id for v in mine]
        journey_touches = sorted(
            (t for vid in my_ids for t in page.touches.get(vid, ()) if start <= t.time <= end),
            key=lambda t: (t.time, t.id),
        )
        found: dict[tuple[str, str], Click] = {}

        def keep(click: Click) -> None:
            key = (click.kind, click.value)
            old = found.get(key)
            if old is None or (
                click.time is not None and (old.time is None or click.time < old.time)
            ):
                found[key] = click

        for vid in my_ids:
            for _, kind, value, seen_at, tp_id in page.clicks_by_visitor.get(vid, ()):
                if start <= seen_at <= end:
                    keep(Click(kind, value, seen_at, tp_id))
        for t in journey_touches:
            for kind, value in t.click_ids.items():
                keep(Click(kind, value, t.time, t.id))
        for kind, value in crm_clicks:  # the contact properties are named after the kinds
            seen = page.click_times.get((kind, value))
            if seen is None:
                keep(Click(kind, value, None))
            elif start <= seen <= end:
                keep(Click(kind, value, seen))
        ordered = sorted(found.values(), key=lambda c: (c.time is not None, c.time or end, c.value))
        status = (
            MATCHED if journey_touches or ordered else (OUTSIDE_WINDOW if mine else NEVER_TRACKED)
        )
        return Journey(deal.id, status, deal.contacts, journey_touches, ordered, mine)
