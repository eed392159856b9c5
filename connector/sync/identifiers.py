"""Per-platform identifiers for one conversion, hashed in that platform's normalisation.

Planning asks for identifiers once per destination and unit, but most of them belong to the
person, not to the click: :class:`JourneyFacts` works those out once per journey and every
destination reads them from there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import chain, islice
from typing import Any, NamedTuple

from connector.attribution import credited
from connector.sync import hashing
from connector.sync.match import Click, Journey, Touch
from connector.sync.windows import destination_class
from platforms.base import LEGACY_CLICK_FIELDS, ClickId, Destination, Hashing, Identifiers


class Unit(NamedTuple):
    """What one planned row is tied to: a click (or touch) with its time, or nothing."""

    click: Click | None = None
    touch: Touch | None = None


NO_UNIT = Unit()


def _distinct(hashed: Iterable[str | None], limit: int) -> tuple[str, ...]:
    """The first ``limit`` different hashes, in the contacts' order (blanks skipped)."""
    return tuple(islice(dict.fromkeys(filter(None, hashed)), limit))


def _set(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The pairs whose value is set (not None): what :meth:`Identifiers.to_json` keeps."""
    return {key: value for key, value in pairs if value is not None}


class Person(NamedTuple):
    """A journey's identifiers in one platform's hashing, the same for every unit.

    ``scalars`` are the set fields after the hashes, in :class:`Identifiers` field order.
    """

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    scalars: dict[str, Any]


class JourneyFacts:
    """What every destination's identifiers share for one journey, each worked out once.

    The person's hashes are worked out once per hashing scheme a destination declares
    (destinations declaring the same scheme share them). Lives only as long as one planning
    call, so the hashes it holds never outlive the page (see :mod:`connector.sync.hashing`).
    Also the ``BrowserEvidence`` a destination's own identifier rules read.
    """

    def __init__(self, journey: Journey, region: str) -> None:
        self.journey = journey
        self.region = region
        contacts = journey.contacts
        self._emails = [c.email for c in contacts if c.email]
        self._phones = [c.phone for c in contacts if c.phone]
        external_id = contacts[0].id if contacts else None
        consent = _consent(journey)
        self._scalars = _set([("external_id", external_id), *consent])
        self._people: dict[str, Person] = {}
        self.allows_browser_context = consent[0][1] is not False
        self._fallbacks: dict[str, str | None] = {}

    def person(self, declared: Hashing | None) -> Person:
        """The journey's people hashed as ``declared`` says (no hashes if it declares none)."""
        if declared is None:
            return Person((), (), self._scalars)
        person = self._people.get(declared.scheme)
        if person is None:
            email, phone = hashing.memoised(declared)
            region = self.region
            person = Person(
                _distinct(map(email, self._emails), declared.max_emails),
                _distinct((phone(p, region) for p in self._phones), declared.max_phones),
                self._scalars,
            )
            self._people[declared.scheme] = person
        return person

    def latest(self, attr: str, preferred: Touch | None) -> str | None:
        """The value from the unit's touch, else the newest touch, else a visitor that has it."""
        if preferred is not None and (value := getattr(preferred, attr)):
            return value  # type: ignore[no-any-return]
        if attr not in self._fallbacks:
            self._fallbacks[attr] = _newest(self.journey, attr)
        return self._fallbacks[attr]

    def cookies(self, name: str) -> list[str]:
        """The values of browser ID ``name`` the page views carried, oldest first.

        The visitors' stored values only when no page view in the window carried one.
        """
        journey = self.journey
        return [v for t in journey.touches if (v := getattr(t, name, None))] or [
            v for info in journey.visitors if (v := getattr(info, name, None))
        ]

    def clicks(self, kind: str) -> list[tuple[str, datetime | None]]:
        """The journey's clicks of ``kind`` as (value, time), oldest first."""
        return [(c.value, c.time) for c in self.journey.clicks if c.kind == kind]

    def browser_context(self, preferred: Touch | None) -> list[tuple[str, Any]]:
        """User agent, IP and page URL of the converting visit, if consent allows.

        The converting visit is the unit's touch, else the journey's newest one; its visitor
        gives the user agent and the IP (kept only ``tracking.ip_retention_days``).
        """
        if not self.allows_browser_context:
            return []
        journey = self.journey
        touch = preferred or (journey.touches[-1] if journey.touches else None)
        visitors = journey.visitors
        own = [v for v in visitors if touch is not None and v.id == touch.visitor_id]
        ordered = own + [v for v in visitors if v not in own]
        agent = next((v.user_agent for v in ordered if v.user_agent), None)
        ip = next((v.client_ip for v in ordered if v.client_ip), None)
        url = touch.url if touch is not None else None
        return [("user_agent", agent), ("client_ip", ip), ("page_url", url)]


def _newest(journey: Journey, attr: str) -> str | None:
    for touch in reversed(journey.touches):
        if value := getattr(touch, attr):
            return value  # type: ignore[no-any-return]
    return next((v for info in journey.visitors if (v := getattr(info, attr))), None)


def _touch_for(journey: Journey, unit: Unit) -> Touch | None:
    if unit.touch is not None:
        return unit.touch
    if unit.click is not None and unit.click.touch_id is not None:
        return next((t for t in journey.touches if t.id == unit.click.touch_id), None)
    return None


def _consent(journey: Journey) -> tuple[tuple[str, bool | None], tuple[str, bool | None]]:
    """The person's latest consent signal, not the one given at the credited click.

    Consent withdrawn on a later visit (or later on the same page, a consent update) must
    reach the conversion sent now, so the newest touch or update before the close that
    carries a signal wins; the visitors' stored state is the fallback.
    """
    user_data: bool | None = None
    personalization: bool | None = None
    signals = [
        (t.time, t)
        for t in journey.touches
        if t.consent_ad_user_data is not None or t.consent_ad_personalization is not None
    ]
    signals += [(c.time, c) for c in journey.consents]
    newest = max(signals, key=lambda pair: pair[0])[1] if signals else None
    for item in chain([newest] if newest is not None else [], journey.visitors):
        if item.consent_ad_user_data is not None or item.consent_ad_personalization is not None:
            user_data, personalization = item.consent_ad_user_data, item.consent_ad_personalization
            break
    return ("consent_ad_user_data", user_data), ("consent_ad_personalization", personalization)


def _click_fields(
    cls: type[Destination], facts: JourneyFacts, unit: Unit
) -> tuple[dict[str, Any], datetime | None]:
    """The set fields before the hashes (click and browser IDs) as stored, and the click time.

    Only what the destination declares: a click of its ``click_kinds``, the identifiers its
    own rules derive from the journey, its ``browser_ids`` and, if it takes it, the browser
    context of the converting visit.
    """
    click = unit.click if unit.click is not None and unit.click.kind in cls.click_kinds else None
    time = click.time if click is not None else None
    pairs: list[tuple[str, Any]] = []
    if click is not None:
        own = ClickId(click.kind, click.value, time)
        if click.kind in LEGACY_CLICK_FIELDS:  # the stored form rows have always had
            pairs += [("click_time", _iso(time)), (click.kind, click.value)]
        else:
            pairs.append(("click", own.to_json()))
    else:
        own = None
    touch = _touch_for(facts.journey, unit)
    pairs += cls.derived_ids(facts, own)
    pairs += [(name, facts.latest(name, touch)) for name in cls.browser_ids]
    if cls.browser_context:
        pairs += facts.browser_context(touch)
    return dict(sorted(_set(pairs).items(), key=_in_field_order)), time


#: ``Identifiers`` field order, the order its ``to_json`` writes.
_FIELD_ORDER = {name: i for i, name in enumerate(Identifiers.__dataclass_fields__)}


def _in_field_order(item: tuple[str, Any]) -> int:
    return _FIELD_ORDER[item[0]]


def _iso(time: datetime | None) -> str | None:
    return None if time is None else time.isoformat()


def stored(
    destination: str, facts: JourneyFacts, unit: Unit
) -> tuple[dict[str, Any], datetime | None]:
    """What ``Identifiers(...).to_json()`` gives for this unit, and the click time in it.

    Planning keeps identifiers as JSON only, so building the dataclass would just be taken
    apart again: this builds the same dict directly, in the dataclass's field order (the
    person's part is shared by every unit; each row still gets its own lists).
    """
    cls = destination_class(destination)
    if cls is None:
        return {}, None  # unregistered: identifiable() refuses it
    out, click_time = _click_fields(cls, facts, unit)
    context = {key: out.pop(key) for key in _CONTEXT if key in out}
    person = facts.person(cls.hashing)
    if person.emails:
        out["email_sha256"] = list(person.emails)
    if person.phones:
        out["phone_sha256"] = list(person.phones)
    if context:  # after external_id, before the consent flags (the dataclass's order)
        if "external_id" in person.scalars:
            out["external_id"] = person.scalars["external_id"]
        out.update(context)
    out.update(person.scalars)
    return out, click_time


#: Browser context fields, which sit between the person's hashes and consent flags.
_CONTEXT = ("user_agent", "client_ip", "page_url")


def build(destination: str, journey: Journey, unit: Unit, region: str) -> Identifiers:
    """The identifiers ``destination`` can use for this unit, in its own hashing.

    Read back from the stored form, exactly as the outbox hands them to the adapters.
    """
    return Identifiers.from_json(stored(destination, JourneyFacts(journey, region), unit)[0])


def eligible_units(destination: str, journey: Journey) -> list[Unit]:
    """Units ``destination`` can attribute to, oldest first (split mode spreads over them).

    Clicks of the destination's ``click_kinds`` (CRM-only clicks of unknown time only when
    no timed click exists), or, for destinations whose units are touches, the touches
    carrying every one of its ``touch_ids``.
    """
    if (needs := _touch_ids(destination)) is not None:
        return [Unit(touch=t) for t in journey.touches if _carries(t, needs)]
    return [Unit(click=c) for c in _eligible_clicks(destination, journey)]


def last_unit(destination: str, journey: Journey) -> Unit:
    """The newest of :func:`eligible_units` (an empty unit if none), without building the rest.

    Unsplit, the platform only gets the most recent unit.
    """
    if (needs := _touch_ids(destination)) is not None:
        for touch in reversed(journey.touches):
            if _carries(touch, needs):
                return Unit(touch=touch)
        return NO_UNIT
    kinds = _click_kinds(destination)
    untimed = None
    for click in reversed(journey.clicks):
        if click.kind in kinds:
            if click.time is not None:
                return Unit(click=click)
            if untimed is None:
                untimed = click
    return NO_UNIT if untimed is None else Unit(click=untimed)


def _click_kinds(destination: str) -> tuple[str, ...]:
    """The click IDs the destination declares it can use (none if it declares none)."""
    cls = destination_class(destination)
    return () if cls is None else cls.click_kinds


def _touch_ids(destination: str) -> tuple[str, ...] | None:
    """The touch fields a unit must carry if the destination's units are touches, else None."""
    cls = destination_class(destination)
    return cls.touch_ids if cls is not None and cls.units == "touches" else None


def _carries(touch: Touch, fields: tuple[str, ...]) -> bool:
    return bool(fields) and all(getattr(touch, name, None) for name in fields)


def _eligible_clicks(destination: str, journey: Journey) -> list[Click]:
    """Timed clicks of the destination's kinds, else its newest untimed one."""
    kinds = _click_kinds(destination)
    clicks = [c for c in journey.clicks if c.kind in kinds]
    timed = [c for c in clicks if c.time is not None]
    return timed or clicks[-1:]


def credited_units(units: list[Unit], ignore_direct: bool) -> list[Unit]:
    """The units that may carry a share in split mode: Direct touches only if nothing else.

    Only GA4's units are touches; a click ID always comes from an ad, never a Direct visit.
    """
    return credited(units, _unit_is_direct, ignore_direct=ignore_direct)


def _unit_is_direct(unit: Unit) -> bool:
    return unit.touch is not None and unit.touch.is_direct


def can_identify(destination: str, ids: Identifiers) -> bool:
    """Whether the platform has anything to match the conversion on.

    At least one of the fields the destination declares in ``identified_by`` must be set.
    """
    return identifiable(destination, vars(ids))


def matches_on(destination: str, name: str) -> bool:
    """The destination matches people on the ``Identifiers`` field ``name`` (its own word)."""
    cls = destination_class(destination)
    return cls is not None and name in cls.identified_by


def identifiable(destination: str, present: dict[str, Any]) -> bool:
    """:func:`can_identify` on :func:`fields` output (or any field-name mapping)."""
    cls = destination_class(destination)
    if cls is None:
        return False  # an unregistered destination can match no one: refuse, never guess
    click = present.get("click")
    kind = click.kind if isinstance(click, ClickId) else (click or {}).get("kind")
    return any(present.get(name) or name == kind for name in cls.identified_by)
