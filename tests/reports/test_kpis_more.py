"""The source report's added KPIs against a hand-computed fixture (SQLite and PostgreSQL).

The fixture (November 2026, USD):
- v1: Paid Search session Nov 2 (2 page views), Organic Search session Nov 5 (1 page: bounce).
- v2: Paid Social session Nov 3 with 3 page views.
- v3: Direct Nov 4 (1 page: bounce); Direct Nov 30 23:50 whose 2nd page is Dec 1 00:10
  (not a bounce; that page is outside the range).
- Contact c1: D0 400 won Oct 10 (no journey), D1 1000 won Nov 10 (recurring 100) on v1's
  Paid Search + Organic Search touches: a repeat purchase (c1 bought before), not a new
  customer, but one of the range's customers.
- Contact c2: D2 600 won Nov 12 (recurring 50) and D3 300 won Nov 20 (no recurring) on v2's
  Paid Social touch; D4 200 won Dec 5: lifetime 600 + 300 + 200 = 1100.
- Contact c3: D5 500 won Nov 15 (recurring 25), no journey.
- Spend: Paid Search 100 USD, 20 clicks, 1000 impressions; Paid Social 50 USD, 5 clicks,
  400 impressions.
- GA4 sessions: google / cpc 3 (Nov 2), facebook / paid_social 2 (Nov 3), (direct) / (none)
  4 (Nov 4), google / cpc 7 on Dec 1 (outside the range).

Hand results (last click): won deals 4, revenue 2400; repeat purchases D1, D3 -> new
customers 2 (D2, D5); the range's customers c1, c2, c3 = 3.

The period-over-period tests at the end compare Nov 11-20 with Nov 1-10 on the same fixture.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner
from reports_conftest import DASHBOARD_TOKEN, attributions

from connector.cli import cli
from connector.reports import ReportRange, source_report
from connector.reports.kpis import KPIS, compute, visible_kpis
from connector.reports.period import change, previous_range, with_previous
from connector.storage.models import Deal, SessionsDaily, SpendDaily, Touchpoint, Visitor

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def touch(tp_id, visitor, when, channel, source=None, medium=None, new=True):
    return Touchpoint(
        id=tp_id,
        visitor_id=visitor,
        occurred_at=when,
        url="https://shop.example/",
        channel=channel,
        source=source,
        medium=medium,
        is_new_session=new,
    )


def deal(deal_id, amount, closed, contact, recurring=None):
    return Deal(
        id=deal_id,
        amount=Decimal(amount),
        currency="USD",
        is_won=True,
        is_closed=True,
        close_time=closed,
        created_time=closed,
        contact_ids=[contact],
        recurring_amount=None if recurring is None else Decimal(recurring),
        match_status="matched",
    )


@pytest.fixture
def world(runtime):
    with runtime.sessions.begin() as s:
        s.add_all([Visitor(id=v) for v in ("v1", "v2", "v3")])
        s.flush()
        tps = [
            touch(1, "v1", at(11, 2), "Paid Search", "google", "cpc"),
            touch(2, "v1", at(11, 2, 0, 5), "Paid Search", "google", "cpc", new=False),
            touch(3, "v1", at(11, 5), "Organic Search", "google", "organic"),
            touch(4, "v2", at(11, 3), "Paid Social", "facebook", "paid_social"),
            touch(5, "v2", at(11, 3, 0, 10), "Paid Social", "facebook", "paid_social", new=False),
            touch(6, "v2", at(11, 3, 0, 20), "Paid Social", "facebook", "paid_social", new=False),
            touch(7, "v3", at(11, 4), "Direct"),
            touch(8, "v3", at(11, 30, 23, 50), "Direct"),
            touch(9, "v3", at(12, 1, 0, 10), "Direct", new=False),
        ]
        s.add_all(tps)
        s.add_all(
            [
                deal("D0", "400", at(10, 10), "c1"),
                deal("D1", "1000", at(11, 10), "c1", "100"),
                deal("D2", "600", at(11, 12), "c2", "50"),
                deal("D3", "300", at(11, 20), "c2"),
                deal("D4", "200", at(12, 5), "c2"),
                deal("D5", "500", at(11, 15), "c3", "25"),
            ]
        )
        s.flush()
        s.add_all(attributions("D1", "1000", "USD", at(11, 10), [(1, at(11, 2)), (3, at(11, 5))]))
        s.add_all(attributions("D2", "600", "USD", at(11, 12), [(4, at(11, 3))]))
        s.add_all(attributions("D3", "300", "USD", at(11, 20), [(4, at(11, 3))]))
        spend = [("google_ads", "Paid Search", 100, 20, 1000), ("meta", "Paid Social", 50, 5, 400)]
        for platform, channel, cost, clicks, impressions in spend:
            s.add(
                SpendDaily(
                    platform=platform,
                    day="2026-11-02",
                    channel=channel,
                    currency="USD",
                    cost=Decimal(cost),
                    clicks=clicks,
                    impressions=impressions,
                )
            )
        ga4 = [
            ("2026-11-02", "google", "cpc", "Brand", 3),
            ("2026-11-03", "facebook", "paid_social", "Retarget", 2),
            ("2026-11-04", "(direct)", "(none)", "(direct)", 4),
            ("2026-12-01", "google", "cpc", "Brand", 7),
        ]
        for day, source, medium, campaign, sessions in ga4:
            s.add(
                SessionsDaily(
                    day=day, source=source, medium=medium, campaign=campaign, sessions=sessions
                )
            )
    return runtime


def report(runtime, by="channel", model="last_click", recurring=True):
    with runtime.sessions() as s:
        data = source_report(s, NOV, by=by, model=model, recurring_mapped=recurring)
    return data, {row["group"]: row for row in data["rows"]}


def test_impressions_and_ctr(world):
    """Impressions are summed from spend; CTR = clicks ÷ impressions (20/1000, 5/400)."""
    data, rows = report(world)
    assert rows["Paid Search"]["impressions"] == 1000
    assert rows["Paid Search"]["kpis"]["ctr"] == Decimal("0.0200")
    assert rows["Paid Social"]["kpis"]["ctr"] == Decimal("0.0125")
    assert rows["Organic Search"]["kpis"]["ctr"] is None  # no impressions: undefined
    assert data["totals"]["impressions"] == 1400
    assert data["totals"]["kpis"]["ctr"] == Decimal("0.0179")  # 25 / 1400 = 0.017857


def test_bounce_rate_and_pages_per_session(world):
    """A bounce is a one-page session; pages per session = page views ÷ sessions."""
    data, rows = report(world)
    expected = {  # visits, page views, bounces, bounce rate, pages per session
        "Paid Search": (1, 2, 0, "0.0000", "2.00"),
        "Organic Search": (1, 1, 1, "1.0000", "1.00"),
        "Paid Social": (1, 3, 0, "0.0000", "3.00"),
        "Direct": (2, 2, 1, "0.5000", "1.00"),  # the Nov 30 session's 2nd page is Dec 1
    }
    for group, (visits, views, bounces, rate, pages) in expected.items():
        row = rows[group]
        assert (row["visits"], row["page_views"], row["bounces"]) == (visits, views, bounces)
        assert row["kpis"]["bounce_rate"] == Decimal(rate), group
        assert row["kpis"]["pages_per_session"] == Decimal(pages), group
    totals = data["totals"]
    assert (totals["visits"], totals["page_views"], totals["bounces"]) == (5, 8, 2)
    assert totals["kpis"]["bounce_rate"] == Decimal("0.4000")
    assert totals["kpis"]["pages_per_session"] == Decimal("1.60")


def test_revenue_per_customer_over_all_customers(world):
    """All customers who bought in the range count once: 2400 ÷ 3; new customers: 2400 ÷ 2."""
    data, rows = report(world)
    totals = data["totals"]
    assert totals["customers"] == 2 and totals["customers_all"] == 3
    assert totals["kpis"]["revenue_per_customer"] == Decimal("1200.00")
    assert totals["kpis"]["revenue_per_customer_all"] == Decimal("800.00")
    # Paid Social: D2 and D3 by one customer (c2): 900 ÷ 1.
    assert rows["Paid Social"]["customers_all"] == 1
    assert rows["Paid Social"]["kpis"]["revenue_per_customer_all"] == Decimal("900.00")
    # Organic Search: D1, a returning customer: no new customer, but one customer.
    assert rows["Organic Search"]["customers"] == 0
    assert rows["Organic Search"]["kpis"]["revenue_per_customer"] is None
    assert rows["Organic Search"]["kpis"]["revenue_per_customer_all"] == Decimal("1000.00")


def test_repeat_purchase_rate(world):
    """Repeat purchases (D1, D3) ÷ won deals (4); per channel by the credited share."""
    data, rows = report(world)
    assert data["totals"]["repeat_deals"] == 2
    assert data["totals"]["kpis"]["repeat_purchase_rate"] == Decimal("0.5000")
    assert rows["Paid Social"]["kpis"]["repeat_purchase_rate"] == Decimal("0.5000")
    assert rows["Organic Search"]["kpis"]["repeat_purchase_rate"] == Decimal("1.0000")
    assert rows["(no journey)"]["kpis"]["repeat_purchase_rate"] == Decimal("0.0000")


def test_customer_lifetime_value(world):
    """CLV: revenue to date of the range's new customers (c2: 1100, c3: 500) ÷ 2."""
    data, rows = report(world)
    assert data["totals"]["lifetime_revenue"] == Decimal("1600.00")
    assert data["totals"]["kpis"]["clv"] == Decimal("800.00")
    assert rows["Paid Social"]["kpis"]["clv"] == Decimal("1100.00")  # D2 + D3 + D4 (Dec)
    assert rows["(no journey)"]["kpis"]["clv"] == Decimal("500.00")
    assert rows["Organic Search"]["kpis"]["clv"] is None  # no new customer there


def test_new_mrr_by_model(world):
    """New MRR sums the recurring amounts of deals won in the range, credited like revenue."""
    data, rows = report(world)
    assert data["totals"]["kpis"]["mrr"] == Decimal("175.00")  # 100 + 50 + 25
    assert rows["Organic Search"]["kpis"]["mrr"] == Decimal("100.00")  # D1's last touch
    assert rows["Paid Social"]["kpis"]["mrr"] == Decimal("50.00")
    _, linear = report(world, model="linear")
    assert linear["Paid Search"]["kpis"]["mrr"] == Decimal("50.00")  # D1 split 1/2, 1/2
    assert linear["Organic Search"]["kpis"]["mrr"] == Decimal("50.00")


def test_mrr_is_undefined_without_the_property(world):
    """Without ``deal.recurring_amount`` in the profile MRR is None ("—"), never 0."""
    data, rows = report(world, recurring=False)
    assert data["totals"]["kpis"]["mrr"] is None
    assert rows["Paid Social"]["kpis"]["mrr"] is None


def test_ga4_sessions_beside_visits(world):
    """GA4 sessions per GA4 channel group over the range's days, with the note."""
    data, rows = report(world)
    assert rows["Paid Search"]["ga4_sessions"] == 3
    assert rows["Paid Social"]["ga4_sessions"] == 2
    assert rows["Direct"]["ga4_sessions"] == 4
    assert rows["Organic Search"]["ga4_sessions"] == 0  # pulled, none for it
    assert data["totals"]["ga4_sessions"] == 9  # Dec 1's 7 are outside
    assert "consent" in data["sessions_note"] and "block" in data["sessions_note"]
    _, by_source = report(world, by="source_medium")
    assert by_source["google / cpc"]["ga4_sessions"] == 3
    assert by_source["(direct) / (none)"]["ga4_sessions"] == 4


def test_no_ga4_sessions_is_undefined(runtime):
    """Without a GA4 pull the column is None and there is no note."""
    with runtime.sessions() as s:
        data = source_report(s, NOV)
    assert data["totals"]["ga4_sessions"] is None
    assert data["sessions_note"] is None


def test_visible_kpis_hide_what_the_profile_does_not_map():
    """MRR shows only with deal.recurring_amount mapped, MQL→SQL only with lifecycle stages."""
    keys = {k.key for k in visible_kpis({"lifecycle_mapped": False, "recurring_mapped": False})}
    assert "mrr" not in keys and "mql_to_sql" not in keys and "clv" in keys
    both = {k.key for k in visible_kpis({"lifecycle_mapped": True, "recurring_mapped": True})}
    assert both == {k.key for k in KPIS}


def test_every_kpi_has_a_label_and_formula():
    """Each KPI compute returns is documented with a label and a formula."""
    keys = set(compute({}))
    documented = {k.key for k in KPIS if k.label and k.formula}
    assert keys == documented


# -- period over period ------------------------------------------------------------------------
# Range Nov 11-20 (10 days) vs the previous 10 days, Nov 1-10, on the fixture above:
# - now: D2 600 (Nov 12), D3 300 (Nov 20), D5 500 (Nov 15) -> revenue 1400, 3 won, avg 466.67;
#   no visit, no spend;
# - before: D1 1000 (Nov 10) -> revenue 1000, 1 won, avg 1000; visits Nov 2, 3, 4, 5 -> 4;
#   spend 150 (Nov 2).

RANGE = ReportRange(date(2026, 11, 11), date(2026, 11, 20))
QUERY = {"from": "2026-11-11", "to": "2026-11-20", "compare": "previous"}


def test_previous_range_has_the_same_length():
    """Nov 11-20 (10 days) follows Nov 1-10; a one-day range follows the day before."""
    assert previous_range(RANGE) == ReportRange(date(2026, 11, 1), date(2026, 11, 10))
    one = ReportRange(date(2026, 3, 1), date(2026, 3, 1))
    assert previous_range(one) == ReportRange(date(2026, 2, 28), date(2026, 2, 28))


def test_change_is_none_when_previous_is_zero_or_undefined():
    """Change in percent divides by the previous value; 0 or None gives None."""
    assert change(Decimal("150"), Decimal("100")) == {
        "previous": Decimal("100"),
        "change": Decimal("50"),
        "change_pct": Decimal("0.5000"),
    }
    assert change(5, 0)["change_pct"] is None and change(5, 0)["change"] == 5
    assert change(None, 3) == {"previous": 3, "change": None, "change_pct": None}


def test_totals_and_kpis_against_the_previous_range(world):
    """Every total and KPI gets previous value, change and change %."""
    with world.sessions() as s:

        def run(period):
            return source_report(s, period)

        data = with_previous(run(RANGE), run, RANGE)
    prev = data["totals"]["previous"]
    assert data["compare"]["range"] == {"from": "2026-11-01", "to": "2026-11-10"}
    assert prev["revenue"] == {
        "previous": Decimal("1000.00"),
        "change": Decimal("400"),
        "change_pct": Decimal("0.4000"),
    }
    assert prev["visits"] == {"previous": 4, "change": -4, "change_pct": Decimal("-1.0000")}
    assert prev["spend"]["change_pct"] == Decimal("-1.0000")
    deal_size = prev["kpis"]["avg_deal_size"]
    assert deal_size["previous"] == Decimal("1000.00")
    assert deal_size["change"] == Decimal("-533.33")
    assert deal_size["change_pct"] == Decimal("-0.5333")
    rows = {row["group"]: row for row in data["rows"]}
    social = rows["Paid Social"]["previous"]["revenue"]  # nothing there before: no percent
    assert social == {"previous": 0, "change": Decimal("900"), "change_pct": None}


@pytest.fixture
def api(world, make_app, make_settings, dashboard_config):
    return make_app(make_settings(dashboard_config)).test_client()


def test_api_compare_previous(api):
    """GET /api/reports/sources?compare=previous carries the comparison as JSON numbers."""
    response = api.get(
        "/api/reports/sources",
        query_string=QUERY,
        headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"},
    )
    assert response.status_code == 200, response.json
    prev = response.json["totals"]["previous"]
    assert prev["revenue"] == {"previous": 1000, "change": 400, "change_pct": 0.4}
    assert response.json["compare"]["with"] == "previous"


def test_api_refuses_an_unknown_comparison(api):
    """compare=year is a 400 naming the parameter."""
    response = api.get(
        "/api/reports/sources",
        query_string={**QUERY, "compare": "year"},
        headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"},
    )
    assert response.status_code == 400
    assert response.json["detail"].startswith("compare:")


@pytest.fixture
def config(tmp_path, db_url, world):
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "currency": "USD"}))
    return str(path)


def cli_run(config, *args):
    return CliRunner().invoke(cli, ["-c", config, "report", "sources", *args])


DATES = ["--from", "2026-11-11", "--to", "2026-11-20"]


def test_cli_compare_table_json_csv(config):
    """--compare previous: a totals table, the JSON block, and CSV previous/change columns."""
    table = cli_run(config, *DATES, "--compare", "previous")
    assert table.exit_code == 0, table.output
    assert "totals against 2026-11-01 to 2026-11-10" in table.output
    line = next(x for x in table.output.splitlines() if x.startswith("revenue USD"))
    assert line.split()[2:] == ["1,400.00", "1,000.00", "400.00", "40.0%"]
    data = json.loads(cli_run(config, *DATES, "--compare", "previous", "--format", "json").output)
    assert data["totals"]["previous"]["won_deals"]["change"] == 2
    sheet = cli_run(config, *DATES, "--compare", "previous", "--format", "csv").output
    total = list(csv.DictReader(io.StringIO(sheet)))[-1]
    assert total["revenue_previous"] == "1000.00" and total["revenue_change_pct"] == "0.4000"


def test_cli_refuses_an_unknown_comparison(config):
    """--compare year is a usage error (exit code 2)."""
    assert cli_run(config, *DATES, "--compare", "year").exit_code == 2


def test_api_refuses_a_comparison_before_the_calendar(api):
    """A range starting on 0001-01-01 has no previous range: a 400 naming from, not a 500."""
    response = api.get(
        "/api/reports/sources",
        query_string={"from": "0001-01-01", "to": "0001-01-03", "compare": "previous"},
        headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"},
    )
    assert response.status_code == 400, response.json
    assert response.json["detail"].startswith("from:")
