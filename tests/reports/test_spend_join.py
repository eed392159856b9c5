"""The delivery report's spend join: per ad platform, won revenue next to its spend, and why not.

Hand-computed world (day D, range D-1..D+1, last click, one touch per deal, USD). Spend in
range: google_ads campaign 11 "Brand search" 100; meta campaign 2385001 "Spring sale" 50;
meta campaign 2385009 only 30 days earlier (outside the range).

Google (google / cpc): t1 resolved to campaign 11 (1,000, by ID); t2 unresolved with
utm_campaign "Brand search" (300, by name); t3 no campaign but its visitor brought a gclid
before it (200, click not resolved); t4 utm_campaign "Brand typo" (80, name not in spend);
t5 nothing, its visitor's gclid only came later (20, no campaign). Revenue 1,600, joined
1,300, rate 0.8125.

Meta (facebook / paid_social): t6 URL-resolved to 2385001 (500, by ID); t7 resolved to 2385009
(150, campaign without spend in range); t8 an fbclid only, which Meta does not resolve (70, no
campaign). Revenue 720, joined 500, rate 500 / 720 = 0.6944.

t9, an email visit (40), belongs to no ad platform and is in neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from reports_conftest import attributions

from connector.reports import ReportRange
from connector.reports.delivery import delivery_report
from connector.runtime import Runtime
from connector.storage.models import (
    ClickId,
    ClickResolution,
    Deal,
    Person,
    SpendDaily,
    Touchpoint,
    Visitor,
)

D = datetime(2026, 11, 10, 12, tzinfo=UTC)
DAY = D.date()


def _spend(platform: str, day, campaign_id: str, campaign: str, cost: str) -> SpendDaily:
    return SpendDaily(
        platform=platform,
        day=day.isoformat(),
        campaign_id=campaign_id,
        campaign=campaign,
        cost=Decimal(cost),
        clicks=1,
        impressions=1,
        currency="USD",
    )


@pytest.fixture
def world(make_settings) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(make_settings({}))
    touches = {
        # id: (source, medium, utm campaign, resolution, click kind and minutes after, amount)
        1: ("google", "cpc", None, "g11", ("gclid", 0), "1000"),
        2: ("google", "cpc", "Brand search", None, None, "300"),
        3: ("google", "cpc", None, None, ("gclid", -60), "200"),
        4: ("google", "cpc", "Brand typo", None, None, "80"),
        5: ("google", "cpc", None, None, ("gclid", 60), "20"),
        6: ("facebook", "paid_social", "Spring sale draft", "m1", None, "500"),
        7: ("facebook", "paid_social", "Old", "m9", None, "150"),
        8: ("facebook", "paid_social", None, None, ("fbclid", 0), "70"),
        9: ("newsletter", "email", "digest", None, None, "40"),
    }
    with runtime.sessions.begin() as s:
        s.add_all(
            [
                _spend("google_ads", DAY, "11", "Brand search", "100"),
                _spend("meta", DAY, "2385001", "Spring sale", "50"),
                _spend("meta", DAY - timedelta(days=30), "2385009", "Old", "30"),
            ]
        )
        for n, (source, medium, campaign, resolution, click, amount) in touches.items():
            s.add(Person(id=n, email_sha256=f"{n:064x}"))
            s.add(Visitor(id=f"v{n}", person_id=n))
            s.flush()
            s.add(
                Touchpoint(
                    id=n,
                    visitor_id=f"v{n}",
                    occurred_at=D,
                    url="https://shop.example/",
                    channel="Paid",
                    source=source,
                    medium=medium,
                    campaign=campaign,
                    is_new_session=True,
                )
            )
            s.flush()
            click_row = None
            if click:
                click_row = ClickId(
                    visitor_id=f"v{n}",
                    kind=click[0],
                    value=f"{click[0]}-{n}",
                    first_seen_at=D + timedelta(minutes=click[1]),
                    touchpoint_id=n,
                )
                s.add(click_row)
                s.flush()
            if resolution:
                platform = "google_ads" if resolution.startswith("g") else "meta"
                campaign_id = {"g11": "11", "m1": "2385001", "m9": "2385009"}[resolution]
                row = ClickResolution(
                    click_id=click_row.id if platform == "google_ads" else None,
                    platform=platform,
                    resolved=True,
                    checked_at=D,
                    campaign_id=campaign_id,
                )
                s.add(row)
                s.flush()
                s.get(Touchpoint, n).click_resolution_id = row.id
            close = D + timedelta(hours=2)
            s.add(
                Deal(
                    id=f"D{n}",
                    amount=Decimal(amount),
                    currency="USD",
                    created_time=D,
                    close_time=close,
                    is_won=True,
                    is_closed=True,
                    contact_ids=[f"c{n}"],
                    stage="closedwon",
                    match_status="matched",
                )
            )
            s.flush()
            s.add_all(attributions(f"D{n}", amount, "USD", close, [(n, D)]))
    yield runtime
    runtime.close()


def test_spend_join_per_platform_with_reasons(world: Runtime) -> None:
    """Joined by ID and by name, and each reason's revenue, match the hand computation."""
    rng = ReportRange(DAY - timedelta(days=1), DAY + timedelta(days=1))
    with world.sessions() as s:
        join = delivery_report(s, rng)["spend_join"]
    d = Decimal
    assert join == {
        "google_ads": {
            "revenue": d("1600.00"),
            "joined": d("1300.00"),
            "join_rate": d("0.8125"),
            "joined_by": {"id": d("1000.00"), "name": d("300.00")},
            "not_joined": {
                "campaign_without_spend": d("0.00"),
                "click_not_resolved": d("200.00"),
                "name_not_in_spend": d("80.00"),
                "no_campaign": d("20.00"),
            },
        },
        "meta": {
            "revenue": d("720.00"),
            "joined": d("500.00"),
            "join_rate": d("0.6944"),
            "joined_by": {"id": d("500.00"), "name": d("0.00")},
            "not_joined": {
                "campaign_without_spend": d("150.00"),
                "click_not_resolved": d("0.00"),
                "name_not_in_spend": d("0.00"),
                "no_campaign": d("70.00"),
            },
        },
    }


def test_a_platform_with_spend_and_no_revenue_has_no_rate(world: Runtime) -> None:
    """Spend but no won revenue in the range: the platform is listed, its rate is None."""
    later = DAY + timedelta(days=40)
    with world.sessions.begin() as s:
        s.add(_spend("meta", later, "2385001", "Spring sale", "5"))
    with world.sessions() as s:
        join = delivery_report(s, ReportRange(later, later))["spend_join"]
    assert list(join) == ["meta"]
    assert join["meta"]["revenue"] == Decimal("0.00") and join["meta"]["join_rate"] is None
