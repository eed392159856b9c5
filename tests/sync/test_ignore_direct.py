"""``attribution.ignore_direct`` in the sync: Direct visits lose their credit to real sources.

Hand-computed journey (close 2026-11-19 12:00, amount 900.00): Organic Search 12 days before
the close, Paid Social (fbclid) 6 days before, Direct 2 days before. With the rule (the
default) the Direct visit is no part of the credit: last click gives Paid Social 900.00, first
click Organic Search 900.00, linear 450.00 each. Without it, last click goes to Direct and
linear gives 300.00 to each of the three.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from connector.config import Settings
from connector.mapping import load_profile
from connector.runtime import Runtime
from connector.storage.models import Attribution, Deal, Touchpoint, model_revenue, model_weight
from connector.sync.attributions import AttributionRow, attribution_rows, touch_summary
from connector.sync.deals import check_deal
from connector.sync.match import MATCHED, Journey, Touch
from connector.sync.plan import PlanSettings, plan_conversions
from platforms.crm import CrmContact, CrmDeal
from tests.sync.conftest import NOW, Seeder, Syncer, outbox, won_deal

CLOSE = NOW - timedelta(days=1)
# (days before the close, channel, source, GA client ID)
TOUCHES = [
    (12, "Organic Search", "google", "1.1"),
    (6, "Paid Social", "facebook", "1.1"),
    (2, "Direct", None, "1.1"),
]


def hand_journey(touches: list[tuple[float, str, str | None, str | None]] = TOUCHES) -> Journey:
    return Journey(
        "d1",
        MATCHED,
        (CrmContact(id="c1", email="ann@example.com"),),
        [
            Touch(n, "v1", CLOSE - timedelta(days=d), ch, src, {}, ga, None, None, None, True, True)
            for n, (d, ch, src, ga) in enumerate(touches, start=1)
        ],
    )


def hand_deal(amount: str = "900") -> Any:
    raw = CrmDeal(
        id="d1",
        modified_time=NOW,
        amount=amount,
        currency="USD",
        close_date=CLOSE.isoformat(),
        contacts=(CrmContact(id="c1"),),
    )
    return check_deal(raw, is_won=True, default_currency="USD", minimum_value=Decimal(0))


def settings(ignore_direct: bool, **attribution: Any) -> Settings:
    return Settings.model_validate({"attribution": {"ignore_direct": ignore_direct, **attribution}})


def credit(rows: list[AttributionRow], model: str) -> dict[int, Decimal]:
    """Revenue by touchpoint of the touches ``model`` credits."""
    return {r.touchpoint_id: r.revenue(model) for r in rows if r.weight(model)}


def test_attribution_rows_skip_direct_when_the_journey_has_other_touches():
    """Default: last click 900 to Paid Social (2), first click to Organic (1), linear 450/450."""
    rows = attribution_rows(hand_deal(), hand_journey(), settings(True))
    assert credit(rows, "last_click") == {2: Decimal("900.00")}
    assert credit(rows, "first_click") == {1: Decimal("900.00")}
    assert credit(rows, "linear") == {1: Decimal("450.00"), 2: Decimal("450.00")}
    assert 3 not in {r.touchpoint_id for r in rows}
    assert touch_summary(hand_journey(), True) == (
        "Organic Search",
        "google",
        "Paid Social",
        "facebook",
    )


def test_with_the_rule_off_direct_keeps_its_credit():
    """ignore_direct false: last click 900 to the Direct visit (3); linear 300 each."""
    rows = attribution_rows(hand_deal(), hand_journey(), settings(False))
    assert credit(rows, "last_click") == {
        3: Decimal("900.00"),
    }
    assert credit(rows, "linear") == {n: Decimal("300.00") for n in (1, 2, 3)}
    assert touch_summary(hand_journey(), False)[2:] == ("Direct", None)


def test_an_all_direct_journey_keeps_its_credit():
    """Two Direct visits and nothing else: linear 450.00 each, even with the rule."""
    journey = hand_journey([(5, "Direct", None, None), (1, "Direct", None, None)])
    rows = attribution_rows(hand_deal(), journey, settings(True))
    assert credit(rows, "linear") == {1: Decimal("450.00"), 2: Decimal("450.00")}
    assert touch_summary(journey, True)[2] == "Direct"


@pytest.mark.parametrize(
    ("ignore_direct", "expected"),
    [
        (
            True,
            [("cl-d1-closed_won-1", Decimal("450.00")), ("cl-d1-closed_won-2", Decimal("450.00"))],
        ),
        (
            False,
            [
                ("cl-d1-closed_won-1", Decimal("300.00")),
                ("cl-d1-closed_won-2", Decimal("300.00")),
                ("cl-d1-closed_won-3", Decimal("300.00")),
            ],
        ),
    ],
)
def test_ga4_split_shares_follow_the_rule(ignore_direct, expected):
    """GA4 split, linear: the Direct session carries no share unless the rule is off."""
    cfg_settings = Settings.model_validate(
        {
            "attribution": {"ignore_direct": ignore_direct, "model": "linear", "split": True},
            "platforms": {"ga4": {"enabled": True, "measurement_id": "G-T", "api_secret": "s"}},
        }
    )
    cfg = PlanSettings(cfg_settings, ("ga4",), NOW)
    rule = load_profile(cfg_settings).won_event()
    plan = plan_conversions(hand_deal(), hand_journey(), rule, cfg, event_time=CLOSE)
    assert [(r["dedup_key"], r["value"]) for r in plan.rows] == expected


def seed_journey(hubspot: Any, runtime: Runtime) -> str:
    """The module's journey in the store, behind a closed-won deal of 900."""
    seeder = Seeder(runtime)
    contact = hubspot.add_contact({"email": "ann@example.com"})
    vid = seeder.visitor(seeder.person("ann@example.com"), ga_client_id="1.1")
    seeder.touch(vid, CLOSE - timedelta(days=12), channel="Organic Search", source="google")
    seeder.touch(
        vid,
        CLOSE - timedelta(days=6),
        click=("fbclid", "FB-1"),
        channel="Paid Social",
        source="facebook",
    )
    seeder.touch(vid, CLOSE - timedelta(days=2), channel="Direct", source=None)
    return won_deal(hubspot, [contact], amount="900", close=CLOSE)


def credit_by_channel(runtime: Runtime, deal: str, model: str) -> dict[str, Decimal]:
    with runtime.sessions() as session:
        rows = session.execute(
            select(Touchpoint.channel, model_revenue(model))
            .join(Touchpoint, Touchpoint.id == Attribution.touchpoint_id)
            .where(Attribution.deal_id == deal, model_weight(model) > 0)
        ).all()
    return {channel: Decimal(revenue).quantize(Decimal("0.01")) for channel, revenue in rows}


@pytest.mark.parametrize("ignore_direct", [True, False])
def test_sync_moves_the_credit_off_direct(
    ignore_direct, hubspot, make_settings, sync_config, clock
):
    """Through the sandbox: last click goes to Paid Social with the rule, to Direct without."""
    sync_config["attribution"] = {"ignore_direct": ignore_direct}
    rt = Runtime.from_settings(make_settings(sync_config))
    try:
        deal = seed_journey(hubspot, rt)
        assert Syncer(rt, clock)() == "succeeded"
        last = credit_by_channel(rt, deal, "last_click")
        linear = credit_by_channel(rt, deal, "linear")
        with rt.sessions() as session:
            stored = session.get(Deal, deal)
            last_touch = (stored.first_touch_channel, stored.last_touch_channel)
        if ignore_direct:
            assert last == {"Paid Social": Decimal("900.00")}
            assert linear == {"Organic Search": Decimal("450.00"), "Paid Social": Decimal("450.00")}
            assert last_touch == ("Organic Search", "Paid Social")
        else:
            assert last == {
                "Direct": Decimal("900.00"),
            }
            assert linear == dict.fromkeys(
                ("Organic Search", "Paid Social", "Direct"), Decimal("300.00")
            )
            assert last_touch == ("Organic Search", "Direct")
        # What is sent does not depend on the rule: one row per platform, full value.
        assert sorted((r[1], r[5]) for r in outbox(rt)) == [
            ("ga4", Decimal("900.0000")),
            ("google_ads", Decimal("900.0000")),
            ("meta", Decimal("900.0000")),
        ]
    finally:
        rt.close()


def test_a_backfill_reattributes_deals_synced_under_the_old_setting(
    hubspot, make_settings, sync_config, clock
):
    """Turning the rule on, then replaying: the credit moves off Direct, the outbox stays."""
    from datetime import date

    from connector.sync.backfill import run_backfill, since_start

    sync_config["attribution"] = {"ignore_direct": False}
    before = Runtime.from_settings(make_settings(sync_config))
    sync_config["attribution"] = {"ignore_direct": True}
    after = Runtime.from_settings(make_settings(sync_config))  # the same database
    try:
        deal = seed_journey(hubspot, before)
        assert Syncer(before, clock)() == "succeeded"
        assert credit_by_channel(before, deal, "last_click")["Direct"] == Decimal("900.00")
        sent = outbox(before)
        clock.advance(hours=1)
        _run, status = run_backfill(
            after, since_start(date(2026, 1, 1)), service=Syncer(after, clock).service()
        )
        assert status == "succeeded"
        assert credit_by_channel(after, deal, "last_click") == {
            "Paid Social": Decimal("900.00"),
        }
        with after.sessions() as session:
            assert session.get(Deal, deal).last_touch_channel == "Paid Social"
        assert outbox(after) == sent
    finally:
        before.close()
        after.close()
