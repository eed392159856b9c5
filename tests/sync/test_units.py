"""Pure parts of the sync: parsing, validation, state changes, dedup keys, time limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connector.config import Settings
from connector.sync.deals import (
    NEW_WON,
    RESTATE,
    RETRACT,
    UNCHANGED,
    PriorState,
    check_deal,
    parse_amount,
    parse_currency,
    parse_time,
    won_change,
)
from connector.sync.plan import dedup_key
from connector.sync.windows import too_old
from platforms.crm import CrmContact, CrmDeal

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def deal(**fields) -> CrmDeal:
    base = {
        "id": "1",
        "modified_time": NOW,
        "amount": "10",
        "currency": "EUR",
        "close_date": "2026-11-19",
        "contacts": (CrmContact(id="c1"),),
    }
    return CrmDeal(**{**base, **fields})


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-19", datetime(2026, 11, 19, tzinfo=UTC)),
        ("2026-11-19T10:00:00.000Z", datetime(2026, 11, 19, 10, tzinfo=UTC)),
        ("2026-11-19T10:00:00+02:00", datetime(2026, 11, 19, 8, tzinfo=UTC)),
        ("1763546400000", datetime(2025, 11, 19, 10, tzinfo=UTC)),
    ],
)
def test_close_dates_in_every_shape_hubspot_uses(raw, expected):
    """Dates, ISO date-times with Z or offsets and epoch milliseconds all parse to aware UTC."""
    assert parse_time(raw) == expected


def test_amounts():
    """Amounts parse as exact decimals; blanks, words, negatives and infinities do not."""
    assert parse_amount("1,234.50")[0] == Decimal("1234.50")
    assert parse_amount(" ")[1].code == "missing_amount"
    assert parse_amount("abc")[1].code == "unparseable_amount"
    assert parse_amount("Infinity")[1].code == "unparseable_amount"
    assert parse_amount("-1")[1].code == "negative_amount"


def test_currencies_are_checked_against_iso_4217():
    """The ISO 4217 table (pycountry) decides; blank means the account default."""
    assert parse_currency("eur", "USD") == ("EUR", None)
    assert parse_currency(None, "USD") == ("USD", None)
    assert parse_currency("ABC", "USD")[1].code == "unknown_currency"


def test_minimum_value_and_no_contacts():
    """Below settings.minimum_value and contact-less deals are problems, with codes."""
    low = check_deal(
        deal(amount="1"), is_won=True, default_currency="USD", minimum_value=Decimal("5")
    )
    assert low.problem.code == "below_minimum"
    alone = check_deal(
        deal(contacts=()), is_won=True, default_currency="USD", minimum_value=Decimal("0")
    )
    assert alone.problem.code == "no_contacts"


@pytest.mark.parametrize(
    ("won", "amount", "prior", "expected"),
    [
        (True, "10", None, NEW_WON),
        (True, "10", PriorState(True, "won", None, None), NEW_WON),
        (True, "10", PriorState(True, "won", Decimal("10.0000"), "EUR"), UNCHANGED),
        (True, "12", PriorState(True, "won", Decimal("10"), "EUR"), RESTATE),
        (False, "10", PriorState(True, "won", Decimal("10"), "EUR"), RETRACT),
        (False, "10", None, UNCHANGED),
    ],
)
def test_state_transitions(won, amount, prior, expected):
    """New win, unchanged, amount change and leaving closed-won map to their actions."""
    checked = check_deal(
        deal(amount=amount), is_won=won, default_currency="USD", minimum_value=Decimal("0")
    )
    assert won_change(checked, prior) == expected


def test_dedup_keys_are_deterministic_short_and_free_of_pii():
    """Same input, same key; long inputs are hashed to at most 64 characters."""
    assert dedup_key("123", "closed_won") == "cl-123-closed_won"
    assert dedup_key("123", "closed won", "2") == "cl-123-closed_won-2"
    long = dedup_key("9" * 60, "a-very-long-rule-name")
    assert len(long) <= 64 and long == dedup_key("9" * 60, "a-very-long-rule-name")


def test_time_limits_per_platform():
    """Meta refuses > 7 days, Google clicks > 90 days and adjustments > 54 days; GA4 none."""
    settings = Settings()
    old = NOW - timedelta(days=8)
    assert too_old(
        "meta", "conversion", event_time=old, click_time=None, now=NOW, settings=settings
    )
    assert (
        too_old(
            "ga4",
            "conversion",
            event_time=NOW - timedelta(days=300),
            click_time=None,
            now=NOW,
            settings=settings,
        )
        is None
    )
    assert too_old(
        "google_ads",
        "conversion",
        event_time=old,
        click_time=NOW - timedelta(days=91),
        now=NOW,
        settings=settings,
    )
    assert (
        too_old(
            "google_ads",
            "conversion",
            event_time=old,
            click_time=NOW - timedelta(days=89),
            now=NOW,
            settings=settings,
        )
        is None
    )
    assert too_old(
        "google_ads",
        "restatement",
        event_time=NOW - timedelta(days=55),
        click_time=None,
        now=NOW,
        settings=settings,
    )


def test_ga4_late_events_skip_makes_older_than_72_hours_too_old():
    """platforms.ga4.late_events: skip refuses what is older than 72 h; the default takes all."""
    skip = Settings.model_validate({"platforms": {"ga4": {"late_events": "skip"}}})
    kwargs = {"click_time": None, "now": NOW}
    old, recent = NOW - timedelta(hours=73), NOW - timedelta(hours=71)
    assert "late_events" in (
        too_old("ga4", "conversion", event_time=old, settings=skip, **kwargs) or ""
    )
    assert too_old("ga4", "conversion", event_time=recent, settings=skip, **kwargs) is None
    assert too_old("ga4", "conversion", event_time=old, settings=Settings(), **kwargs) is None


def test_consent_is_the_latest_signal_not_the_clicked_touchs():
    """Consent withdrawn after the ad click reaches the conversion; granted later counts too."""
    from connector.sync.identifiers import Unit, build
    from connector.sync.match import Click, Journey, Touch

    def touch(id_: int, day: int, consent: bool | None, gclid: str | None = None) -> Touch:
        return Touch(
            id=id_,
            visitor_id="v1",
            time=datetime(2026, 11, day, tzinfo=UTC),
            channel="Paid Search" if gclid else "Organic Search",
            source="google",
            click_ids={"gclid": gclid} if gclid else {},
            ga_client_id=None,
            ga_session_id=None,
            fbc=None,
            fbp=None,
            consent_ad_user_data=consent,
            consent_ad_personalization=consent,
        )

    clicked = touch(1, 1, True, gclid="G1")
    click = Click("gclid", "G1", clicked.time, touch_id=1)
    for later, expected in ((False, False), (None, True)):
        journey = Journey(
            deal_id="D1",
            status="matched",
            touches=[clicked, touch(2, 5, later)],
            clicks=[click],
        )
        ids = build("google_ads", journey, Unit(click=click, touch=clicked), "US")
        assert (ids.gclid, ids.consent_ad_user_data, ids.consent_ad_personalization) == (
            "G1",
            expected,
            expected,
        )
