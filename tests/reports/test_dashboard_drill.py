"""Drill-down (connector.reports.drill): each level's rows for one parent, adding up to it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from reports_conftest import add_attributions, nov

from connector.reports import ReportRange
from connector.reports.drill import (
    DrillError,
    drilled_model_comparison,
    drilled_source_report,
    next_level,
)
from connector.storage.models import Deal, Lead, Person, SpendDaily, Touchpoint, Visitor

NOVEMBER = ReportRange(nov(1).date(), nov(30).date())
#: visitor, channel, source, medium, campaign, term, deal amount (None: a lead, no deal)
JOURNEYS = [
    ("v1", "Paid Search", "google", "cpc", "Brand", "acme", "1000"),
    ("v2", "Paid Search", "google", "cpc", "Generic", "shoes", "500"),
    ("v3", "Paid Social", "facebook", "paid_social", "Retarget", None, None),
    ("v4", "Direct", None, None, None, None, None),
]
#: platform, channel, source, medium, campaign, keyword, cost
SPEND = [
    ("google_ads", "Paid Search", "google", "cpc", "Brand", "acme", "100"),
    ("google_ads", "Paid Search", "google", "cpc", "Generic", "shoes", "50"),
    ("meta", "Paid Social", "facebook", "paid_social", "Retarget", None, "30"),
]


def seed_drill_world(sessions) -> None:
    """Three leads on two paid channels, two won deals, spend on the same campaigns."""
    with sessions.begin() as s:
        for i, (vid, channel, source, medium, campaign, term, amount) in enumerate(JOURNEYS, 1):
            s.add(Person(id=i, email_sha256=f"{i:064d}"))
            s.add(Visitor(id=vid, person_id=i))
            s.flush()
            tp = Touchpoint(
                id=i,
                visitor_id=vid,
                occurred_at=nov(2, i),
                url="https://shop.example/",
                channel=channel,
                source=source,
                medium=medium,
                campaign=campaign,
                term=term,
                is_new_session=True,
            )
            s.add(tp)
            if channel == "Direct":
                continue
            s.add(Lead(person_id=i, visitor_id=vid, kind="form", occurred_at=nov(2, i + 1)))
            if amount is None:
                continue
            s.add(
                Deal(
                    id=f"D{i}",
                    amount=Decimal(amount),
                    currency="USD",
                    created_time=nov(3),
                    close_time=nov(10),
                    is_won=True,
                    is_closed=True,
                    contact_ids=[f"c{i}"],
                    pipeline="default",
                    stage="closedwon",
                    match_status="matched",
                )
            )
            s.flush()
            add_attributions(s, f"D{i}", amount, "USD", nov(10), [tp])
        for platform, channel, source, medium, campaign, keyword, cost in SPEND:
            s.add(
                SpendDaily(
                    platform=platform,
                    day="2026-11-02",
                    campaign_id=campaign,
                    campaign=campaign,
                    keyword_id=keyword or "",
                    keyword=keyword,
                    source=source,
                    medium=medium,
                    channel=channel,
                    currency="USD",
                    cost=Decimal(cost),
                    clicks=10,
                )
            )


@pytest.fixture
def drill_sessions(report_app):
    """The drill world's session factory."""
    sessions = report_app.extensions["closedloop"].sessions
    seed_drill_world(sessions)
    return sessions


def _rows(report) -> dict[str, tuple]:
    return {r["group"]: (r["visits"], r["leads"], r["revenue"], r["spend"]) for r in report["rows"]}


def test_unfiltered_is_the_source_report(drill_sessions):
    """No filter: the channel rows of the plain report (Paid Search 2 visits, 1,500 revenue)."""
    with drill_sessions() as s:
        report = drilled_source_report(s, NOVEMBER, by="channel", model="last_click")
    assert _rows(report) == {
        "Paid Search": (2, 2, Decimal("1500.00"), Decimal("150.00")),
        "Paid Social": (1, 1, Decimal("0.00"), Decimal("30.00")),
        "Direct": (1, 0, Decimal("0.00"), Decimal("0.00")),
    }
    assert report["where"] == {}


def test_channel_then_source_medium_then_campaign(drill_sessions):
    """Paid Search -> google / cpc -> Brand 1,000/100 and Generic 500/50; totals ROI 9.0."""
    with drill_sessions() as s:
        sm = drilled_source_report(
            s, NOVEMBER, by="source_medium", where={"channel": "Paid Search"}, model="last_click"
        )
        campaigns = drilled_source_report(
            s,
            NOVEMBER,
            by="campaign",
            where={"source_medium": "google / cpc", "channel": "Paid Search"},
            model="last_click",
        )
    assert _rows(sm) == {"google / cpc": (2, 2, Decimal("1500.00"), Decimal("150.00"))}
    assert sm["by"] == "source_medium"
    assert _rows(campaigns) == {
        "Brand": (1, 1, Decimal("1000.00"), Decimal("100.00")),
        "Generic": (1, 1, Decimal("500.00"), Decimal("50.00")),
    }
    totals = campaigns["totals"]
    assert (totals["visits"], totals["revenue"], totals["spend"]) == (2, 1500, 150)
    assert totals["kpis"]["roi"] == Decimal("9.0000")  # (1500 - 150) / 150
    assert list(campaigns["where"]) == ["channel", "source_medium"]  # level order


def test_keyword_level_and_empty_parent(drill_sessions):
    """Generic's keyword is shoes (500 revenue, 50 spend); an unknown parent has no rows."""
    with drill_sessions() as s:
        keywords = drilled_source_report(
            s, NOVEMBER, by="keyword", where={"campaign": "Generic"}, model="last_click"
        )
        nothing = drilled_source_report(
            s, NOVEMBER, by="keyword", where={"campaign": "Nope"}, model="last_click"
        )
    assert _rows(keywords) == {"shoes": (1, 1, Decimal("500.00"), Decimal("50.00"))}
    assert nothing["rows"] == [] and nothing["totals"]["visits"] == 0


def test_model_comparison_drilled(drill_sessions):
    """The model table under Paid Search by campaign: Brand 1,000 and Generic 500 (one touch)."""
    with drill_sessions() as s:
        report = drilled_model_comparison(
            s, NOVEMBER, by="campaign", where={"channel": "Paid Search"}, bootstrap=0
        )
    revenue = {r["group"]: r["revenue"]["last_click"] for r in report["rows"]}
    assert revenue == {"Brand": Decimal("1000.00"), "Generic": Decimal("500.00")}


@pytest.mark.parametrize(
    ("where", "by", "field"),
    [({"colour": "x"}, "campaign", "colour"), ({"campaign": "x"}, "campaign", "campaign")],
)
def test_bad_filters_name_the_field(drill_sessions, where, by, field):
    """An unknown dimension, or a filter on the grouped one, is refused naming the field."""
    with drill_sessions() as s, pytest.raises(DrillError) as error:
        drilled_source_report(s, NOVEMBER, by=by, where=where)
    assert error.value.field == field


def test_levels_go_channel_to_keyword():
    """Channel -> source/medium -> campaign -> keyword, and keyword is the last level."""
    assert [next_level(x) for x in ("channel", "source_medium", "campaign", "keyword")] == [
        "source_medium",
        "campaign",
        "keyword",
        None,
    ]
