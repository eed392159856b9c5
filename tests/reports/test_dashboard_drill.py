"""Drill-down (connector.reports.drill): each level's rows for one parent, adding up to it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from reports_conftest import nov, seed_drill_world

from connector.reports import ReportRange
from connector.reports.drill import (
    DrillError,
    drilled_model_comparison,
    drilled_source_report,
    next_level,
)

NOVEMBER = ReportRange(nov(1).date(), nov(30).date())


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
