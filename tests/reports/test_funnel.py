"""The funnel report (period and cohort), proven on the hand-computed world in funnel_world.py.

Range November 2026, by channel, last click, ``ignore_direct`` on.
"""

from __future__ import annotations

import importlib.util
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from connector.reports.funnel import funnel_report
from connector.reports.sources import ReportRange
from connector.runtime import Runtime

_spec = importlib.util.spec_from_file_location(
    "funnel_world", Path(__file__).with_name("funnel_world.py")
)
assert _spec and _spec.loader
world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(world)

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
STAGES = ("visitors", "leads", "mqls", "sqls", "opportunities", "customers")


@pytest.fixture
def seeded(runtime: Runtime) -> Runtime:
    world.seed(runtime)
    return runtime


def report(runtime: Runtime, mode: str, **options) -> dict:
    with runtime.sessions() as session:
        return funnel_report(session, NOV, by="channel", model="last_click", mode=mode, **options)


def stages(row: dict) -> tuple:
    return tuple(row[s] for s in STAGES)


def by_group(data: dict) -> dict[str, dict]:
    return {r["group"]: r for r in data["rows"]}


def test_period_stages_are_counted_when_they_happened(seeded: Runtime) -> None:
    """Period: visitors, leads, MQLs, SQLs, opportunities, customers as the table gives them."""
    rows = by_group(report(seeded, "period"))
    # Paid Search: visitors alice+bob; leads alice, bob; MQLs alice, bob; SQLs alice, dave,
    # erin (dave's and erin's MQLs were in October); opportunity D1; customers D1, D3.
    assert stages(rows["Paid Search"]) == (2, 2, 2, 3, 1, 2)
    assert stages(rows["Organic Search"]) == (1, 1, 0, 1, 1, 0)
    assert stages(rows["Direct"]) == (1, 0, 0, 0, 0, 0)


def test_period_totals_count_each_visitor_once(seeded: Runtime) -> None:
    """Totals: 4 distinct visitors (alice's two sessions count once) and the stage sums."""
    totals = report(seeded, "period")["totals"]
    assert stages(totals) == (4, 3, 2, 4, 2, 2)
    assert totals["spend"] == Decimal("300.00")


def test_period_mql_to_sql_can_pass_100_percent_where_the_cohort_cannot(seeded: Runtime) -> None:
    """Paid Search: period SQLs/MQLs = 3/2 = 150 %; of November's leads, 1 of 2 MQLs is an SQL."""
    period = by_group(report(seeded, "period"))["Paid Search"]["rates"]
    cohort = by_group(report(seeded, "cohort"))["Paid Search"]["rates"]
    assert period["mql_to_sql"] == Decimal("1.5")
    assert period["opportunity_to_customer"] == Decimal("2")  # 2 wins of 1 new opportunity
    assert cohort["mql_to_sql"] == Decimal("0.5")
    assert cohort["opportunity_to_customer"] == Decimal("1")


def test_cohort_follows_the_range_leads_to_today(seeded: Runtime) -> None:
    """Cohort: alice (won), bob (MQL only), carol (SQL without an MQL date, open deal)."""
    data = report(seeded, "cohort")
    rows = by_group(data)
    assert stages(rows["Paid Search"]) == (2, 2, 2, 1, 1, 1)
    # carol has no MQL date but reached SQL, so she passed MQL: 1 MQL, not 0.
    assert stages(rows["Organic Search"]) == (1, 1, 1, 1, 1, 0)
    assert stages(data["totals"]) == (4, 3, 3, 2, 2, 1)


def test_every_cohort_rate_is_at_most_100_percent(seeded: Runtime) -> None:
    """No cohort rate exceeds 1, in any row or the totals."""
    data = report(seeded, "cohort")
    for row in [*data["rows"], data["totals"]]:
        for name, value in row["rates"].items():
            assert value is None or value <= 1, (row["group"], name, value)


def test_period_rates_by_hand(seeded: Runtime) -> None:
    """Paid Search period rates: 2/2, 2/2, 3/2, 1/3 (rounded to 4 places), 2/1."""
    assert by_group(report(seeded, "period"))["Paid Search"]["rates"] == {
        "visitor_to_lead": Decimal("1"),
        "lead_to_mql": Decimal("1"),
        "mql_to_sql": Decimal("1.5"),
        "sql_to_opportunity": Decimal("0.3333"),
        "opportunity_to_customer": Decimal("2"),
    }


def test_costs_per_stage_on_the_spend_row(seeded: Runtime) -> None:
    """Paid Search spend 300: lead 300/2, MQL 300/2, SQL 300/3, opportunity 300/1, CAC 300/2."""
    costs = by_group(report(seeded, "period"))["Paid Search"]["costs"]
    assert costs == {
        "cost_per_lead": Decimal("150.00"),
        "cost_per_mql": Decimal("150.00"),
        "cost_per_sql": Decimal("100.00"),
        "cost_per_opportunity": Decimal("300.00"),
        "cac": Decimal("150.00"),
    }
    cohort = by_group(report(seeded, "cohort"))["Paid Search"]["costs"]
    assert cohort["cost_per_sql"] == Decimal("300.00")  # 1 SQL in the cohort
    assert cohort["cac"] == Decimal("300.00")


def test_costs_are_none_when_the_stage_is_zero(seeded: Runtime) -> None:
    """Organic Search: no MQLs, no customers: cost per MQL and CAC are None (not 0, not inf)."""
    organic = by_group(report(seeded, "period"))["Organic Search"]
    assert organic["costs"]["cost_per_mql"] is None
    assert organic["costs"]["cac"] is None
    assert organic["costs"]["cost_per_lead"] == Decimal("0.00")  # 0 spend over 1 lead is 0
    assert organic["rates"]["mql_to_sql"] is None  # 1 SQL over 0 MQLs
    direct = by_group(report(seeded, "period"))["Direct"]
    assert all(v is None for v in direct["costs"].values())


def test_unmapped_lifecycle_leaves_milestones_unknown(seeded: Runtime) -> None:
    """Without mapped stages MQLs/SQLs are None and so is everything computed from them."""
    row = by_group(report(seeded, "period", lifecycle_mapped=False))["Paid Search"]
    assert row["mqls"] is None and row["sqls"] is None
    assert row["rates"]["lead_to_mql"] is None
    assert row["costs"]["cost_per_sql"] is None
    assert row["costs"]["cost_per_lead"] == Decimal("150.00")


def test_empty_store_has_no_rows_and_no_rates(runtime: Runtime) -> None:
    """Nothing tracked: no rows, zero totals and every ratio None."""
    for mode in ("period", "cohort"):
        data = report(runtime, mode)
        assert data["rows"] == []
        assert stages(data["totals"]) == (0, 0, 0, 0, 0, 0)
        assert all(v is None for v in data["totals"]["rates"].values())


def test_unknown_mode_is_refused(runtime: Runtime) -> None:
    """A mode other than period/cohort is a ValueError naming the choices."""
    with pytest.raises(ValueError, match="period, cohort"):
        report(runtime, "weekly")
