"""Per-platform identifiers for one conversion, hashed in that platform's normalisation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from connector.attribution import credited
from connector.sync import hashing
from connector.sync.match import Click, Journey, Touch
from platforms.base import Identifiers

GOOGLE_CLICKS = ("gclid", "gbraid", "wbraid")
MAX_EMAILS, MAX_PHONES = 3, 2


@dataclass(frozen=True)
class Unit:
    """What one planned row is tied to: a click (or touch) with its time, or nothing."""

    click: Click | None = None
    touch: Touch | None = None


def _hashes(
    values: list[str | None], fn: Callable[[str | None], str | None], limit: int
) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        hashed = fn(value)
        if hashed and hashed not in out:
            out.append(hashed)
    return tuple(out[:limit])


def _touch_for(journey: Journey, unit: Unit) -> Touch | None:
    if unit.touch is not None:
        return unit.touch
    if unit.click is not None and unit.click.touch_id is not None:
        return next((t for t in journey.touches if t.id == unit.click.touch_id), None)
    return None


def _latest(journey: Journey, attr: str, preferred: Touch | None) -> str | None:
    """The value from the unit's touch, else the newest touch, else a visitor that has it."""
    if preferred is not None and getattr(preferred, attr):
        return getattr(preferred, attr)
    for touch in reversed(journey.touches):
        if value := getattr(touch, attr):
            return value
    return next((v for info in journey.visitors if (v := getattr(info, attr))), None)


def _consent(journey: Journey) -> tuple[bool | None, bool | None]:
    """The person's latest consent signal, not the one given at the credited click.

    Consent withdrawn on a later visit must reach the conversion sent now, so the newest touch
    that carries a signal wins; the visitors' stored state is the fallback.
    """
    for item in (*reversed(journey.touches), *journey.visitors):
        if item.consent_ad_user_data is not None or item.consent_ad_personalization is not None:
            return item.consent_ad_user_data, item.consent_ad_personalization
    return None, None


def _fbc(journey: Journey, preferred: Touch | None) -> str | None:
    """The browser's _fbc, else one built from an fbclid whose click time is known."""
    if value := _latest(journey, "fbc", preferred):
        return value
    timed = [c for c in journey.clicks if c.kind == "fbclid" and c.time is not None]
    if not timed:
        return None  # building fbc with another time would misreport the click's age
    click = timed[-1]
    return f"fb.1.{int(click.time.timestamp() * 1000)}.{click.value}"  # type: ignore[union-attr]


def build(destination: str, journey: Journey, unit: Unit, region: str) -> Identifiers:
    """The identifiers ``destination`` can use for this unit, in its own hashing."""
    contacts = journey.contacts
    emails = [c.email for c in contacts]
    phones = [c.phone for c in contacts]
    touch = _touch_for(journey, unit)
    ad_user_data, ad_personalization = _consent(journey)
    external_id = contacts[0].id if contacts else None
    if destination == "google_ads":
        click = unit.click if unit.click and unit.click.kind in GOOGLE_CLICKS else None
        return Identifiers(
            gclid=click.value if click and click.kind == "gclid" else None,
            gbraid=click.value if click and click.kind == "gbraid" else None,
            wbraid=click.value if click and click.kind == "wbraid" else None,
            click_time=click.time if click else None,
            email_sha256=_hashes(emails, hashing.google_email, MAX_EMAILS),
            phone_sha256=_hashes(phones, lambda p: hashing.google_phone(p, region), MAX_PHONES),
            external_id=external_id,
            consent_ad_user_data=ad_user_data,
            consent_ad_personalization=ad_personalization,
        )
    if destination == "meta":
        click = unit.click if unit.click and unit.click.kind == "fbclid" else None
        visitor_ua = next((v.user_agent for v in journey.visitors if v.user_agent), None)
        return Identifiers(
            fbclid=click.value if click else None,
            click_time=click.time if click else None,
            fbc=_fbc(journey, touch),
            fbp=_latest(journey, "fbp", touch),
            email_sha256=_hashes(emails, hashing.meta_email, MAX_EMAILS),
            phone_sha256=_hashes(phones, lambda p: hashing.meta_phone(p, region), MAX_PHONES),
            external_id=external_id,
            user_agent=visitor_ua,
            consent_ad_user_data=ad_user_data,
            consent_ad_personalization=ad_personalization,
        )
    return Identifiers(  # ga4 and any other Google-hashed destination
        ga_client_id=_latest(journey, "ga_client_id", touch),
        ga_session_id=_latest(journey, "ga_session_id", touch),
        click_time=unit.click.time if unit.click else None,
        email_sha256=_hashes(emails, hashing.google_email, MAX_EMAILS),
        phone_sha256=_hashes(phones, lambda p: hashing.google_phone(p, region), MAX_PHONES),
        external_id=external_id,
        consent_ad_user_data=ad_user_data,
        consent_ad_personalization=ad_personalization,
    )


def eligible_units(destination: str, journey: Journey) -> list[Unit]:
    """Units ``destination`` can attribute to, oldest first (split mode spreads over them).

    Google Ads: clicks with gclid/gbraid/wbraid (CRM-only clicks of unknown time only when no
    timed click exists). Meta: fbclid clicks. GA4: touches carrying a GA client ID.
    """
    if destination == "ga4":
        return [Unit(touch=t) for t in journey.touches if t.ga_client_id]
    kinds = GOOGLE_CLICKS if destination == "google_ads" else ("fbclid",)
    clicks = [c for c in journey.clicks if c.kind in kinds]
    timed = [c for c in clicks if c.time is not None]
    return [Unit(click=c) for c in (timed or clicks[-1:])]


def credited_units(units: list[Unit], ignore_direct: bool) -> list[Unit]:
    """The units that may carry a share in split mode: Direct touches only if nothing else.

    Only GA4's units are touches; a click ID always comes from an ad, never a Direct visit.
    """
    return credited(units, _unit_is_direct, ignore_direct=ignore_direct)


def _unit_is_direct(unit: Unit) -> bool:
    return unit.touch is not None and unit.touch.is_direct


def can_identify(destination: str, ids: Identifiers) -> bool:
    """Whether the platform has anything to match the conversion on."""
    if destination == "google_ads":
        return bool(ids.gclid or ids.gbraid or ids.wbraid or ids.email_sha256 or ids.phone_sha256)
    if destination == "ga4":
        return bool(ids.ga_client_id)
    if destination == "meta":
        return bool(ids.email_sha256 or ids.phone_sha256 or ids.fbc or ids.fbp or ids.external_id)
    return True
