"""The dashboard's pure parts: presets, comparison period, money, colours, view links, cards."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from connector.dashboard import empty
from connector.dashboard.colours import CHANNEL_COLOURS, colour
from connector.dashboard.money import money
from connector.dashboard.panels import summary
from connector.dashboard.presets import matching_preset, preset_range, previous_range
from connector.dashboard.view import read_view
from connector.reports import ReportRange
from connector.tracking.channels import CHANNELS, UNASSIGNED

TODAY = date(2026, 12, 3)


@pytest.mark.parametrize(
    ("preset", "start"),
    [
        ("7d", date(2026, 11, 27)),
        ("30d", date(2026, 11, 4)),
        ("90d", date(2026, 9, 5)),
        ("qtd", date(2026, 10, 1)),
    ],
)
def test_presets_end_today(preset, start):
    """Last 7/30/90 days and quarter to date, counted by hand from 3 December 2026."""
    assert preset_range(preset, TODAY) == ReportRange(start, TODAY)


def test_quarter_to_date_on_a_quarter_boundary():
    """On 1 January the quarter is that one day; on 31 March it starts on 1 January."""
    assert preset_range("qtd", date(2027, 1, 1)) == ReportRange(date(2027, 1, 1), date(2027, 1, 1))
    assert preset_range("qtd", date(2027, 3, 31)).start == date(2027, 1, 1)
    assert preset_range("custom", TODAY) is None


def test_previous_period_is_as_long_and_just_before():
    """27 Nov-3 Dec is preceded by 20-26 Nov; the 64 days of Q4 to date by 29 Jul-30 Sep."""
    assert previous_range(ReportRange(date(2026, 11, 27), TODAY)) == ReportRange(
        date(2026, 11, 20), date(2026, 11, 26)
    )
    assert previous_range(ReportRange(date(2026, 10, 1), TODAY)) == ReportRange(
        date(2026, 7, 29), date(2026, 9, 30)
    )


def test_a_custom_range_equal_to_a_preset_shows_as_it():
    """4 Nov-3 Dec is "last 30 days"; 1-30 Nov is custom."""
    assert matching_preset(ReportRange(date(2026, 11, 4), TODAY), TODAY) == "30d"
    assert matching_preset(ReportRange(date(2026, 11, 1), date(2026, 11, 30)), TODAY) == "custom"


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("1234.5"), "USD", "$1,234.50"),
        (Decimal("-12"), "EUR", "-€12.00"),
        (Decimal("1234.5"), "JPY", "¥1,235"),
        (Decimal("0"), "GBP", "£0.00"),
        (Decimal("99"), "CHF", "CHF 99.00"),
        (Decimal("5.5"), "CAD", "CA$5.50"),
        (None, "USD", "—"),
    ],
)
def test_money_has_its_symbol(value, currency, shown):
    """CLDR English forms, written out by hand (JPY has no minor unit: 1,234.5 -> ¥1,235)."""
    assert money(value, currency) == shown


def test_every_ga4_channel_has_its_own_fixed_colour():
    """All GA4 channel names and Unassigned have a colour, no two the same."""
    names = [*CHANNELS, UNASSIGNED]
    assert all(name in CHANNEL_COLOURS for name in names)
    assert len({CHANNEL_COLOURS[n] for n in names}) == len(names)
    assert colour("Paid Search") == "#2563eb"
    assert colour("google / cpc") == colour("google / cpc")  # stable for other names


def _view(query: str):
    args = {k: v[0] for k, v in parse_qs(query.lstrip("?")).items()}
    return read_view(args, TODAY, model="last_click")


def test_drill_links_and_breadcrumbs():
    """A channel row leads to its source/mediums; breadcrumbs link back to each level."""
    top = _view("?preset=7d&by=channel")
    down = _view(top.drill("Paid Search"))
    assert (down.by, down.where, down.preset) == ("source_medium", {"channel": "Paid Search"}, "7d")
    deeper = _view(down.drill("google / cpc"))
    assert deeper.by == "campaign"
    assert deeper.where == {"channel": "Paid Search", "source_medium": "google / cpc"}
    crumbs = deeper.breadcrumbs()
    assert [label for label, _ in crumbs] == ["All channels", "Paid Search", "google / cpc"]
    assert crumbs[-1][1] is None  # the current level is not a link
    back = _view(crumbs[1][1])
    assert (back.by, back.where) == ("source_medium", {"channel": "Paid Search"})
    assert _view(crumbs[0][1]).where == {}
    assert _view(_view(deeper.drill("Brand")).query()).by == "keyword"
    assert _view("?by=keyword").drill("acme") is None  # the last level
    assert top.drill("(no journey)") is None


def test_view_reads_custom_ranges_and_refuses_bad_ones():
    """from/to without a preset is custom; a reversed range is 30 days with a notice."""
    custom = _view("?from=2026-11-01&to=2026-11-30&compare=previous")
    assert custom.rng == ReportRange(date(2026, 11, 1), date(2026, 11, 30)) and custom.compare
    assert custom.previous == ReportRange(date(2026, 10, 2), date(2026, 10, 31))
    bad = _view("?from=2026-11-30&to=2026-11-01")
    assert bad.notice.startswith("to: must not be before from") and bad.preset == "30d"
    assert _view("?by=campaign&campaign=x").where == {}  # not a filter on its own level


def _report(rows, spend=0, clicks=0, where=None):
    totals = {"spend": Decimal(spend), "clicks": clicks}
    return {"range": {"from": "2026-11-01", "to": "2026-11-30"}, "rows": rows, "totals": totals} | {
        "where": where or {}
    }


def test_empty_states_say_why_and_what_to_do():
    """No rows: check the snippet and sync; drilled: go back up; no spend: connect spend."""
    assert "tracking snippet (/t.js)" in empty.sources(_report([]))
    assert "Nothing under Paid Search > Brand" in empty.sources(
        _report([], where={"channel": "Paid Search", "campaign": "Brand"})
    )
    message = empty.spend(_report([{"group": "Direct"}]))
    assert message.startswith("No spend rows from 2026-11-01 to 2026-11-30")
    assert "platforms.google_ads" in message and "platforms.meta" in message
    assert empty.spend(_report([{"group": "Direct"}], spend=5)) is None
    assert empty.sources(_report([{"group": "Direct"}])) is None


def test_comparison_cards():
    """Revenue 1,500 vs 1,000 is +50 %; leads 3 vs 0 has no defined change."""
    from connector.reports.period import compare_row

    now = {"revenue": Decimal(1500), "spend": Decimal(150), "leads": 3, "won_deals": 2}
    now["kpis"] = {"roi": Decimal(9), "cost_per_lead": Decimal(50)}
    before = {"revenue": Decimal(1000), "spend": Decimal(200), "leads": 0, "won_deals": 1}
    before["kpis"] = {"roi": Decimal(4), "cost_per_lead": None}
    report = {"totals": {**now, "previous": compare_row(now, before)}}
    cards = {c["key"]: c for c in summary(report)}
    assert cards["revenue"]["change"] == Decimal("0.5000")
    assert cards["revenue"]["previous"] == Decimal(1000)
    assert cards["spend"]["change"] == Decimal("-0.2500")
    assert cards["roi"]["change"] == Decimal("1.2500")  # (9 - 4) / 4
    assert cards["leads"]["change"] is None and cards["cost_per_lead"]["change"] is None


def test_control_characters_name_no_group():
    """A drill value with NUL or the key separator is dropped by the page, refused by reports."""
    from connector.reports.drill import DrillError, clean_where

    assert _view("?by=campaign&channel=Paid%00Search").where == {}
    with pytest.raises(DrillError, match="channel: must be a non-empty group name"):
        clean_where({"channel": "Paid\x00Search"}, "campaign")


def test_lifecycle_empty_states():
    """Cohort without leads, no stage times, no paths: each says why and what to do."""
    span = {"range": {"from": "2026-11-01", "to": "2026-11-30"}}
    cohort = empty.funnel(span | {"rows": [], "mode": "cohort", "where": {}})
    assert cohort.startswith("No leads were created from 2026-11-01 to 2026-11-30")
    cell = {"count": 0, "median_days": None, "p75_days": None}
    still = {"rows": [{"group": "Direct", "lead_to_mql": cell}], "measures": ["lead_to_mql"]}
    assert "stage-entry times" in empty.velocity(span | still | {"totals": None})
    moved = {"rows": [{"group": "Direct", "lead_to_mql": cell | {"count": 1}}]}
    assert empty.velocity(span | still | moved | {"totals": None}) is None
    none = empty.paths(span | {"paths": [], "target": "deal", "channel": "Email"})
    assert none.startswith("No won deals credited to Email with a tracked journey")
