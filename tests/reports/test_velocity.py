"""Time in stage and velocity, proven on the hand-computed world in funnel_world.py.

Range November 2026, by channel, last click. Durations by hand (days):

- lead→MQL (MQLs in Nov): alice Nov 1 10:00→Nov 3 10:00 = 2; bob Nov 2→Nov 5 = 3.
- MQL→SQL (SQLs in Nov): alice 2; dave Oct 25→Nov 10 = 16; erin Oct 26→Nov 12 = 17; carol
  has no MQL date, so no duration.
- SQL→won (wins in Nov): D1 Nov 5 10:00→Nov 11 = 5 7/12; D3 Nov 10→Nov 20 = 10.
- lead→won: D1 Nov 1 10:00→Nov 11 = 9 7/12; D3 Oct 20→Nov 20 = 31.
- sales cycle: D1 Nov 6→Nov 11 = 5; D3 Oct 28→Nov 20 = 23.

Percentiles by linear interpolation: of two values a ≤ b, median (a+b)/2, p75 a + 0.75(b-a);
of three a ≤ b ≤ c, median b, p75 b + 0.5(c-b).
"""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from connector.reports.sources import ReportRange
from connector.reports.velocity import percentile, velocity_report
from connector.runtime import Runtime

_spec = importlib.util.spec_from_file_location(
    "funnel_world", Path(__file__).with_name("funnel_world.py")
)
assert _spec and _spec.loader
world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(world)

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))


@pytest.fixture
def seeded(runtime: Runtime) -> Runtime:
    world.seed(runtime)
    return runtime


def report(runtime: Runtime, model: str = "last_click", **options) -> dict:
    with runtime.sessions() as session:
        return velocity_report(session, NOV, by="channel", model=model, **options)


def figures(cell: dict) -> tuple:
    return (cell["count"], cell["median_days"], cell["p75_days"])


def d(text: str) -> Decimal:
    return Decimal(text)


def test_percentile_is_linear_interpolation_between_closest_ranks() -> None:
    """Hand values: [1,2,3,4] median 2.5, p75 3.25; one value is itself; none is None."""
    assert percentile([1, 2, 3, 4], 0.5) == 2.5
    assert percentile([1, 2, 3, 4], 0.75) == 3.25
    assert percentile([2, 16, 17], 0.75) == 16.5
    assert percentile([10], 0.75) == 10
    assert percentile([], 0.5) is None


def test_paid_search_velocity_by_hand(seeded: Runtime) -> None:
    """Paid Search: every measure's count, median and p75 from the durations above."""
    rows = {r["group"]: r for r in report(seeded)["rows"]}
    paid = rows["Paid Search"]
    assert figures(paid["lead_to_mql"]) == (2, d("2.50"), d("2.75"))
    assert figures(paid["mql_to_sql"]) == (3, d("16.00"), d("16.50"))
    # 5 7/12 and 10: median 7 19/24 = 7.7917; p75 5 7/12 + 0.75 * 4 5/12 = 8.8958
    assert figures(paid["sql_to_won"]) == (2, d("7.79"), d("8.90"))
    # 9 7/12 and 31: median 20 7/24 = 20.2917; p75 9 7/12 + 0.75 * 21 5/12 = 25.6458
    assert figures(paid["lead_to_won"]) == (2, d("20.29"), d("25.65"))
    assert figures(paid["sales_cycle"]) == (2, d("14.00"), d("18.50"))


def test_a_contact_without_an_mql_date_has_no_mql_durations(seeded: Runtime) -> None:
    """Carol skipped MQL: her SQL gives no lead→MQL or MQL→SQL time (None, not 0)."""
    rows = {r["group"]: r for r in report(seeded)["rows"]}
    assert "Organic Search" not in rows  # carol's SQL was her only moment in November
    totals = report(seeded)["totals"]
    assert totals["mql_to_sql"]["count"] == 3  # alice, dave, erin; not carol


def test_totals_count_each_duration_once(seeded: Runtime) -> None:
    """Totals equal Paid Search here (all durations are on it)."""
    totals = report(seeded)["totals"]
    assert figures(totals["lead_to_mql"]) == (2, d("2.50"), d("2.75"))
    assert figures(totals["sales_cycle"]) == (2, d("14.00"), d("18.50"))


def test_linear_model_counts_a_deal_in_each_credited_group_once(seeded: Runtime) -> None:
    """Under linear, D3's journey is dave's one touch, D1's alice's first: the same figures."""
    rows = {r["group"]: r for r in report(seeded, model="linear")["rows"]}
    assert figures(rows["Paid Search"]["sales_cycle"]) == (2, d("14.00"), d("18.50"))


def test_empty_store_gives_no_rows_and_empty_totals(runtime: Runtime) -> None:
    """Nothing stored: no rows; every total count 0 and every percentile None."""
    data = report(runtime)
    assert data["rows"] == []
    for measure in data["measures"]:
        assert figures(data["totals"][measure]) == (0, None, None)
