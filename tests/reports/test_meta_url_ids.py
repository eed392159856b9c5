"""Meta clicks carrying their campaign/ad set/ad IDs meet Meta's spend on the same row, by ID.

A real Meta Graph sandbox serves the ad-level insights the facebook-business SDK pulls; the pull
then reads the IDs Meta's URL macros put in the landing URLs. Hand-computed world (day D = five
days ago, USD, last click):

Spend on D: campaign 2385001 "Spring sale" / ad set 2385011 "Lookalike 1%" / ads 2385021
"Video A" 50 and 2385022 "Carousel B" 50; campaign 2385002 "Retargeting" / ad set 2385012 /
ad 2385023 "Static C" 25. The URLs carry Meta's name snapshot "Spring sale draft" (names
are frozen when an ad is published), so only the IDs can join them.

- t1: utm_id=2385001, utm_term=2385011, utm_content=2385021; t6 a second page of its session;
  deal D1 1,000 over t1, t6 (last click: t6, the page).
- t2: only utm_content=2385022 (an ad ID: its ad set and campaign come from spend); D2 400.
- t3: only utm_id=2385002 (campaign level); D3 200.
- t4: google / cpc with utm_id=999 (an ID Meta never spent on); D4 100: stays unresolved.
- t5: newsletter email, utm_content=hero (not numeric); D5 50.

Expected by campaign: Spring sale 1,400 / 100 (ROI 13), Retargeting 200 / 25 (ROI 7),
"(not set)" 100 / 0 (t4: utm_campaign unset), digest 50 / 0. By keyword (Meta has none): one
"(not set)" row, 1,750 / 125 (ROI 13). By ad: Video A 1,000 / 50 (ROI 19), Carousel B
400 / 50 (ROI 7), Static C 0 / 25 (ROI -1), "(not set)" 200 + 100 = 300 / 0, hero 50 / 0.
By channel: Paid Social 1,600 / 125 (ROI 11.8), Paid Search 100, Email 50.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from reports_conftest import attributions
from sqlalchemy import select

from connector.runtime import Runtime
from connector.spend import pull_spend
from connector.storage.models import ClickResolution, Touchpoint
from platforms.meta.sandbox import MetaSandbox
from tests.id_join_helpers import add_won_buyer, figures_by_group

NOW = datetime.now(UTC).replace(microsecond=0)
D = (NOW - timedelta(days=5)).replace(hour=12, minute=0, second=0)
DAY = D.date()
META = "utm_source=facebook&utm_medium=paid_social&utm_campaign=Spring+sale+draft"
D_ = Decimal


@pytest.fixture(scope="module")
def running() -> Iterator[MetaSandbox]:
    with MetaSandbox() as server:
        yield server


@pytest.fixture
def meta(running: MetaSandbox) -> MetaSandbox:
    running.reset()
    for campaign, name, adset, adset_name, ad, ad_name, cost in (
        ("2385001", "Spring sale", "2385011", "Lookalike 1%", "2385021", "Video A", "50"),
        ("2385001", "Spring sale", "2385011", "Lookalike 1%", "2385022", "Carousel B", "50"),
        ("2385002", "Retargeting", "2385012", "Visitors 30d", "2385023", "Static C", "25"),
    ):
        running.add_insight(
            DAY,
            campaign,
            name,
            cost,
            10,
            1000,
            adset_id=adset,
            adset_name=adset_name,
            ad_id=ad,
            ad_name=ad_name,
        )
    return running


@pytest.fixture
def world(make_settings, meta: MetaSandbox) -> Iterator[Runtime]:
    settings = make_settings({"platforms": {"meta": {**meta.platform_config(), "enabled": True}}})
    runtime = Runtime.from_settings(settings)
    touches = [
        # id, landing URL query (Meta fills the macros when the ad is clicked)
        (1, f"{META}&utm_id=2385001&utm_term=2385011&utm_content=2385021&fbclid=IwAR1"),
        (2, f"{META}&utm_content=2385022"),
        (3, "utm_source=facebook&utm_medium=paid_social&utm_campaign=Retargeting&utm_id=2385002"),
        (4, "utm_source=google&utm_medium=cpc&utm_id=999"),
        (5, "utm_source=newsletter&utm_medium=email&utm_campaign=digest&utm_content=hero"),
    ]
    facts = {
        1: ("Paid Social", "facebook", "paid_social", "Spring sale draft", "2385011", "2385021"),
        2: ("Paid Social", "facebook", "paid_social", "Spring sale draft", None, "2385022"),
        3: ("Paid Social", "facebook", "paid_social", "Retargeting", None, None),
        4: ("Paid Search", "google", "cpc", None, None, None),
        5: ("Email", "newsletter", "email", "digest", None, "hero"),
    }
    amounts = {1: "1000", 2: "400", 3: "200", 4: "100", 5: "50"}
    close = D + timedelta(hours=2)
    with runtime.sessions.begin() as s:
        for n, query in touches:
            channel, source, medium, campaign, term, content = facts[n]
            add_won_buyer(
                s,
                n,
                at=D,
                amount=amounts[n],
                url=f"https://shop.example/?{query}",
                channel=channel,
                source=source,
                medium=medium,
                campaign=campaign,
                term=term,
                content=content,
            )
        # t6: the second page of t1's session carries the session's source, as collected.
        s.add(
            Touchpoint(
                id=6,
                visitor_id="v1",
                occurred_at=D + timedelta(minutes=5),
                url="https://shop.example/pricing",
                channel="Paid Social",
                source="facebook",
                medium="paid_social",
                campaign="Spring sale draft",
                term="2385011",
                content="2385021",
                is_new_session=False,
            )
        )
        s.flush()
        s.add_all(attributions("D1", "1000", "USD", close, [(1, D), (6, D + timedelta(minutes=5))]))
        for n in (2, 3, 4, 5):
            s.add_all(attributions(f"D{n}", amounts[n], "USD", close, [(n, D)]))
    yield runtime
    runtime.close()


def report(runtime: Runtime, by: str) -> dict[str, tuple[Decimal, Decimal, Decimal | None]]:
    return figures_by_group(runtime, DAY, by)


def test_meta_ids_in_urls_put_revenue_on_their_campaign_and_ad_spend_rows(
    world: Runtime, meta: MetaSandbox
) -> None:
    """Campaign, keyword, ad and channel rows hold the hand-computed revenue, spend and ROI."""
    results = pull_spend(world, DAY, DAY)
    assert results["meta"]["rows"] == 3
    assert results["meta"]["url_ids"] == {"with_ids": 4, "resolved": 3}
    assert report(world, "campaign") == {
        "Spring sale": (D_("1400.00"), D_("100.00"), D_("13")),
        "Retargeting": (D_("200.00"), D_("25.00"), D_("7")),
        "(not set)": (D_("100.00"), D_("0.00"), None),
        "digest": (D_("50.00"), D_("0.00"), None),
    }
    assert report(world, "keyword") == {"(not set)": (D_("1750.00"), D_("125.00"), D_("13"))}
    assert report(world, "ad") == {
        "Video A": (D_("1000.00"), D_("50.00"), D_("19")),
        "Carousel B": (D_("400.00"), D_("50.00"), D_("7")),
        "Static C": (D_("0.00"), D_("25.00"), D_("-1")),
        "(not set)": (D_("300.00"), D_("0.00"), None),
        "hero": (D_("50.00"), D_("0.00"), None),
    }
    assert report(world, "channel") == {
        "Paid Social": (D_("1600.00"), D_("125.00"), D_("11.8")),
        "Paid Search": (D_("100.00"), D_("0.00"), None),
        "Email": (D_("50.00"), D_("0.00"), None),
    }


def test_each_ad_has_one_resolution_and_a_repull_asks_only_the_unresolved(
    world: Runtime, meta: MetaSandbox
) -> None:
    """Rows are keyed by campaign/ad set/ad; a second pull re-reads only t4 and links nothing."""
    pull_spend(world, DAY, DAY)
    again = pull_spend(world, DAY, DAY)
    assert again["meta"]["url_ids"] == {"with_ids": 1, "resolved": 0}
    with world.sessions() as s:
        rows = {
            (r.campaign_id, r.ad_group_id, r.ad_id): (r.campaign, r.ad, r.click_id)
            for r in s.scalars(select(ClickResolution))
        }
        linked = dict(s.execute(select(Touchpoint.id, Touchpoint.click_resolution_id)).all())
    assert rows == {
        ("2385001", "2385011", "2385021"): ("Spring sale", "Video A", None),
        ("2385001", "2385011", "2385022"): ("Spring sale", "Carousel B", None),
        ("2385002", "", ""): ("Retargeting", None, None),
    }
    assert linked[1] is not None and linked[6] == linked[1]
    assert linked[4] is None and linked[5] is None


def test_a_renamed_meta_campaign_keeps_one_row(world: Runtime, meta: MetaSandbox) -> None:
    """A rename in Meta renames the old clicks' row and the old spend by ID."""
    pull_spend(world, DAY, DAY)
    next_day = DAY + timedelta(days=1)
    meta.add_insight(
        next_day,
        "2385001",
        "Spring sale (EU)",
        "5",
        1,
        100,
        adset_id="2385011",
        adset_name="Lookalike 1%",
        ad_id="2385021",
        ad_name="Video A",
    )
    pull_spend(world, next_day, next_day)
    rows = report(world, "campaign")
    assert "Spring sale" not in rows
    assert rows["Spring sale (EU)"][:2] == (D_("1400.00"), D_("105.00"))
