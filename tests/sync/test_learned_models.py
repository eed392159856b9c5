"""Markov and Shapley as stored, reported and sent models, on a world computed by hand.

History (won deals closed the day before, stored by a first sync): D1, 300 USD, through
Organic Search then Display; D2, 100 USD, through Paid Search then Display. Visitors who never
bought: one through Organic Search, one through Display; and D3's buyer, whose Paid Search
(gclid G-1) then Display (gclid G-2) visits are not a won deal yet when the second sync learns.

Markov, order 1 (every conversion ends in Display, so by value = by conversions). From start:
Organic 2/5, Paid Search 2/5, Display 1/5. Organic -> Display 1/2, -> null 1/2; Paid Search ->
Display 1; Display -> conversion 2/4. P(reach Display) = 1/5 + 2/5 + 1/5 = 4/5, P(convert) =
2/5. Without Organic: reach 3/5, removal effect 1 - 3/4 = 1/4. Without Paid Search: reach 2/5,
effect 1/2. Without Display: effect 1. Shares 1/7, 2/7, 4/7. D3 (1,000 USD over Paid Search,
Display): 2/7 : 4/7 = 333.33 / 666.67.

Shapley by value: v({Org, Disp}) = 300, v({PS, Disp}) = 100, v(all) = 400, the rest 0.
Organic: 1/6 x 300 + 1/3 x 300 = 150; Paid Search: 1/6 x 100 + 1/3 x 100 = 50; Display 200.
D3: 50 : 200 = 200.00 / 800.00. (Linear would be 500 / 500, last click 0 / 1,000.)

The first sync had nothing to learn from, so D1 and D2 carry the linear split under both
learned models: D1 150 / 150. The second sync reads them again (the pull's overlap) and
re-credits them by the fit: Markov D1 (Organic, Display) 1/7 : 4/7 = 60.00 / 240.00, D2 (Paid
Search, Display) 2/7 : 4/7 = 33.33 / 66.67; Shapley D2 50 : 200 = 20.00 / 80.00. Source report
by Markov over the three deals: Organic 60.00, Paid Search 33.33 + 333.33 = 366.66, Display
240.00 + 66.67 + 666.67 = 973.34; 1,400.00 in all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

import platforms
from connector.config import Settings, parse_config
from connector.errors import ConfigError
from connector.mapping import load_profile
from connector.outbox import deliver_due
from connector.reports.sources import ReportRange, source_report
from connector.runtime import Runtime
from connector.storage.models import (
    Attribution,
    Conversion,
    Touchpoint,
    model_revenue,
    model_weight,
    utcnow,
)
from connector.sync.attributions import attribution_rows
from connector.sync.deals import check_deal
from connector.sync.learned import NOT_NEEDED, LearnedCredit, not_learned
from connector.sync.match import MATCHED, Journey, Touch
from connector.sync.plan import PlanSettings, plan_conversions
from platforms.crm import CrmContact, CrmDeal
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.sandbox_kit import FaultPlan
from tests.sync.conftest import NOW, FakeClock, Seeder, Syncer, won_deal

G1, G2 = "G1" + "a" * 30, "G2" + "b" * 30
CENT = Decimal("0.01")


@pytest.fixture
def clock() -> FakeClock:
    """A clock at the real now (the Google sandbox judges click age by it), moved by hand."""
    return FakeClock(wall=utcnow())


@pytest.fixture
def hubspot(clock: FakeClock) -> Iterator[HubSpotSandbox]:
    """The HubSpot sandbox on the test's clock."""
    sandbox = HubSpotSandbox(FaultPlan(), now=clock.now, monotonic=clock.monotonic)
    with sandbox.start():
        yield sandbox


@pytest.fixture
def google() -> Iterator[Any]:
    """The Google Ads (Data Manager) sandbox."""
    sandbox = platforms.load(platforms.SANDBOXES["google_ads"])(faults=FaultPlan())
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def make_runtime(make_settings, hubspot, google, model: str) -> Runtime:
    """HubSpot and Google Ads on their sandboxes; ``model`` split per click."""
    return Runtime.from_settings(
        make_settings(
            {
                "platforms": {
                    "hubspot": hubspot.platform_config(),
                    "google_ads": google.platform_config(),
                },
                "attribution": {
                    "model": model,
                    "split": True,
                    "data_driven": {"min_conversions": 2},
                },
            }
        )
    )


def buyer(seed: Seeder, hubspot: Any, email: str, touches: list[tuple[Any, ...]]) -> str:
    """A tracked person with ``touches`` ((time, channel, click or None)); their contact ID."""
    visitor = seed.visitor(seed.person(email))
    for at, channel, click in touches:
        seed.touch(visitor, at, channel=channel, source="x", click=click, is_new_session=True)
    return hubspot.add_contact({"email": email})


def seed_history(rt: Runtime, hubspot: Any, google: Any, now: Any) -> tuple[str, str, str]:
    """The module's world: D1 and D2 won in HubSpot, D3's buyer tracked; D3's contact ID."""
    close = now - timedelta(days=1)
    seed = Seeder(rt)
    c1 = buyer(
        seed,
        hubspot,
        "d1@example.com",
        [
            (close - timedelta(days=9), "Organic Search", None),
            (close - timedelta(days=4), "Display", None),
        ],
    )
    c2 = buyer(
        seed,
        hubspot,
        "d2@example.com",
        [
            (close - timedelta(days=8), "Paid Search", None),
            (close - timedelta(days=3), "Display", None),
        ],
    )
    for channel in ("Organic Search", "Display"):
        seed.touch(seed.visitor(), close - timedelta(days=5), channel=channel, is_new_session=True)
    g1_at, g2_at = close - timedelta(days=6), close - timedelta(days=2)
    google.know_click("gclid", G1, g1_at)
    google.know_click("gclid", G2, g2_at)
    c3 = buyer(
        seed,
        hubspot,
        "d3@example.com",
        [(g1_at, "Paid Search", ("gclid", G1)), (g2_at, "Display", ("gclid", G2))],
    )
    d1 = won_deal(hubspot, [c1], amount="300", close=close)
    d2 = won_deal(hubspot, [c2], amount="100", close=close)
    return d1, d2, c3


def stored(rt: Runtime, deal: str, model: str) -> tuple[dict[str, Decimal], Decimal]:
    """A deal's stored revenue by channel under ``model``, and its weights' sum."""
    with rt.sessions() as session:
        rows = session.execute(
            select(Touchpoint.channel, model_revenue(model), model_weight(model))
            .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
            .where(Attribution.deal_id == deal)
        ).all()
    revenue = {channel: Decimal(r).quantize(CENT) for channel, r, _ in rows}
    return revenue, sum((Decimal(w) for _, _, w in rows), Decimal(0))


RE_READ_D2 = {
    "markov": {"Paid Search": Decimal("33.33"), "Display": Decimal("66.67")},
    "shapley": {"Paid Search": Decimal("20.00"), "Display": Decimal("80.00")},
}
EXPECTED = {
    "markov": {"Paid Search": Decimal("333.33"), "Display": Decimal("666.67")},
    "shapley": {"Paid Search": Decimal("200.00"), "Display": Decimal("800.00")},
}


@pytest.mark.parametrize("model", ["markov", "shapley"])
def test_learned_credit_is_stored_reported_and_sent_split_per_click(
    model, make_settings, hubspot, google, clock
):
    """First sync: linear fallback, with its reason; second: D3 credited and sent by the fit."""
    rt = make_runtime(make_settings, hubspot, google, model)
    try:
        d1, d2, c3 = seed_history(rt, hubspot, google, clock.now())
        sync = Syncer(rt, clock)
        assert sync() == "succeeded"
        first = sync.last["summary"]["sync"]["data_driven"]
        assert first["learned"] == []
        assert "0 won deals" in first["fallback"][model]
        assert "attribution.data_driven.min_conversions" in first["fallback"][model]
        assert stored(rt, d1, model) == (
            {"Organic Search": Decimal("150.00"), "Display": Decimal("150.00")},
            Decimal(1),
        )

        d3 = won_deal(hubspot, [c3], amount="1000", close=clock.now() - timedelta(days=1))
        clock.advance(hours=1)
        assert sync() == "succeeded"
        second = sync.last["summary"]["sync"]["data_driven"]
        assert second["learned"] == ["markov", "shapley"]
        assert (second["journeys"], second["converting_journeys"]) == (5, 2)
        shares = second["shares"]
        assert shares["markov"]["Paid Search"] == pytest.approx(2 / 7)
        assert shares["shapley"]["Paid Search"] == pytest.approx(1 / 8)
        for learned in ("markov", "shapley"):
            assert stored(rt, d3, learned) == (EXPECTED[learned], Decimal(1))
        assert stored(rt, d2, model) == (RE_READ_D2[model], Decimal(1))

        with rt.sessions() as session:
            planned = session.execute(
                select(Conversion.dedup_key, Conversion.value)
                .where(Conversion.deal_id == d3, Conversion.destination == "google_ads")
                .order_by(Conversion.dedup_key)
            ).all()
        paid, display = EXPECTED[model]["Paid Search"], EXPECTED[model]["Display"]
        assert [(k, Decimal(v)) for k, v in planned] == [
            (f"cl-{d3}-closed_won-1", paid),
            (f"cl-{d3}-closed_won-2", display),
        ]
        summary = deliver_due(rt, only=["google_ads"]).platforms["google_ads"]
        assert summary.error is None
        sent = {item["gclid"]: Decimal(str(item["value"])) for item in google.accepted}
        assert sent[G1] == paid and sent[G2] == display
    finally:
        rt.close()


def test_a_run_splitting_no_deal_learns_nothing(make_settings, hubspot, google, clock):
    """One touch takes everything under every model, so a run of such deals learns no fit.

    A later run reading a deal of two touches does learn (too few deals here: linear, saying so).
    """
    rt = make_runtime(make_settings, hubspot, google, "markov")
    try:
        close = clock.now() - timedelta(days=1)
        seed = Seeder(rt)
        one = buyer(seed, hubspot, "one@example.com", [(close, "Display", None)])
        deal = won_deal(hubspot, [one], amount="100", close=close)
        sync = Syncer(rt, clock)
        assert sync() == "succeeded"
        assert sync.last["summary"]["sync"]["data_driven"] == {
            "learned": [],
            "not_learned": NOT_NEEDED,
        }
        assert stored(rt, deal, "markov") == ({"Display": Decimal("100.00")}, Decimal(1))
        clock.advance(hours=1)
        assert sync() == "succeeded"  # nothing changed: an empty run
        assert sync.last["summary"]["sync"]["data_driven"]["not_learned"] == NOT_NEEDED
        two = buyer(
            seed,
            hubspot,
            "two@example.com",
            [(close - timedelta(days=2), "Paid Search", None), (close, "Display", None)],
        )
        won_deal(hubspot, [two], amount="100", close=close)
        clock.advance(hours=1)
        assert sync() == "succeeded"  # a deal of two touches to split: the run learns
        learned = sync.last["summary"]["sync"]["data_driven"]
        assert "not_learned" not in learned and learned["journeys"] > 0
    finally:
        rt.close()


def test_source_report_by_markov_sums_the_stored_credit(make_settings, hubspot, google, clock):
    """model=markov: each channel's revenue is the sum of the deals' stored Markov credit."""
    rt = make_runtime(make_settings, hubspot, google, "markov")
    try:
        _d1, _d2, c3 = seed_history(rt, hubspot, google, clock.now())
        sync = Syncer(rt, clock)
        sync()
        won_deal(hubspot, [c3], amount="1000", close=clock.now() - timedelta(days=1))
        clock.advance(hours=1)
        sync()
        today = clock.now().date()
        rng = ReportRange(today - timedelta(days=30), today + timedelta(days=1))
        with rt.sessions() as session:
            report = source_report(session, rng, model="markov")
        revenue = {r["group"]: r["revenue"] for r in report["rows"]}
        assert revenue["Organic Search"] == Decimal("60.00")
        assert revenue["Paid Search"] == Decimal("366.66")
        assert revenue["Display"] == Decimal("973.34")
        assert sum(revenue.values()) == Decimal("1400.00")
    finally:
        rt.close()


def test_an_unknown_model_is_refused_naming_its_key():
    """``attribution.model: markof`` fails the config check, naming attribution.model."""
    with pytest.raises(ConfigError, match=r"attribution\.model") as err:
        parse_config({"attribution": {"model": "markof"}}, env={})
    assert "markov" in str(err.value)  # the choices are listed


def test_min_conversions_must_be_positive():
    """``min_conversions: 0`` is refused with its key path."""
    with pytest.raises(ConfigError, match=r"attribution\.data_driven\.min_conversions"):
        parse_config({"attribution": {"data_driven": {"min_conversions": 0}}}, env={})


def test_a_learned_model_is_selectable_in_the_config():
    """``attribution.model: shapley`` validates."""
    settings = parse_config({"attribution": {"model": "shapley"}}, env={})
    assert settings.attribution.model == "shapley"


# -- the rule on hand-made journeys (no store) ------------------------------------------------
CLOSE = NOW - timedelta(days=1)


def journey(channels: list[str]) -> Journey:
    """One touch per channel, a day apart, each carrying a GA client ID."""
    return Journey(
        "d1",
        MATCHED,
        (CrmContact(id="c1", email="ann@example.com"),),
        [
            Touch(n, "v1", at, ch, "x", {}, "1.1", None, None, None, True, True)
            for n, ch in enumerate(channels, start=1)
            for at in [CLOSE - timedelta(days=len(channels) - n + 1)]
        ],
    )


def deal(amount: str) -> Any:
    raw = CrmDeal(
        id="d1",
        modified_time=NOW,
        amount=amount,
        currency="USD",
        close_date=CLOSE.isoformat(),
        contacts=(CrmContact(id="c1"),),
    )
    return check_deal(raw, is_won=True, default_currency="USD", minimum_value=Decimal(0))


@given(
    st.lists(
        st.sampled_from(["Email", "Display", "Paid Search", "Referral"]), min_size=1, max_size=7
    ),
    st.dictionaries(st.sampled_from(["Email", "Display", "Paid Search"]), st.floats(0, 1)),
    st.dictionaries(st.sampled_from(["Email", "Display", "Referral"]), st.floats(0, 1)),
    st.decimals(min_value=0, max_value=10**9, places=2),
)
def test_stored_learned_credit_sums_to_the_amount_to_the_cent(channels, markov, shapley, amount):
    """Whatever the fit, each learned model's stored revenue adds up to the deal, weights to 1."""
    learned = LearnedCredit(shares={"markov": markov, "shapley": shapley})
    rows = attribution_rows(deal(str(amount)), journey(channels), Settings(), learned)
    for model in ("markov", "shapley"):
        assert sum((r.revenue(model) for r in rows), Decimal(0)) == amount
        assert sum((r.weight(model) for r in rows), Decimal(0)) == Decimal(1)


def test_ga4_split_by_markov_follows_the_learned_shares():
    """GA4 split, Markov shares 3/4 Organic, 1/4 Paid Social: 900 -> 675.00 / 225.00."""
    settings = Settings.model_validate(
        {
            "attribution": {"model": "markov", "split": True},
            "platforms": {"ga4": {"enabled": True, "measurement_id": "G-T", "api_secret": "s"}},
        }
    )
    learned = LearnedCredit(shares={"markov": {"Organic Search": 0.75, "Paid Social": 0.25}})
    rule = load_profile(settings).won_event()
    trip = journey(["Organic Search", "Paid Social", "Direct"])
    plan = plan_conversions(
        deal("900"), trip, rule, PlanSettings(settings, ("ga4",), NOW, learned), event_time=CLOSE
    )
    assert [(r["dedup_key"], r["value"]) for r in plan.rows] == [
        ("cl-d1-closed_won-1", Decimal("675.00")),
        ("cl-d1-closed_won-2", Decimal("225.00")),
    ]
    # Nothing learned (too few journeys): the linear split.
    fallback = PlanSettings(settings, ("ga4",), NOW, not_learned("too few"))
    plan = plan_conversions(deal("900"), trip, rule, fallback, event_time=CLOSE)
    assert [r["value"] for r in plan.rows] == [Decimal("450.00"), Decimal("450.00")]
