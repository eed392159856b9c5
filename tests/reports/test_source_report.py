"""Report numbers against a hand-computed fixture, for every model (SQLite and PostgreSQL).

The fixture (November 2026, reporting currency USD, GBP at 1.20):
- visitor v1: Paid Search click (Nov 2, campaign Brand, keyword acme), then Organic Search
  (Nov 5); form lead Nov 5 10:00; deal D1 1,000 USD won Nov 10; deal D5 200 USD won Nov 20
  by the same contact (a repeat customer).
- visitor v2: Paid Social (Nov 3, two page views in one session); call lead Nov 4; deal D2
  500 GBP (= 600 USD) won Nov 12.
- visitor v3: Direct (Nov 4); form lead; no deal.
- D3: 300 USD won Nov 15 by a contact never tracked: the "(no journey)" row.
- Spend: Google Ads Brand/acme 100 USD on Nov 2; Meta Retarget 50 USD on Nov 3.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from reports_conftest import attributions

from connector.attribution import MODELS
from connector.reports import ReportRange, source_report
from connector.reports.compare import model_comparison
from connector.reports.kpis import display
from connector.storage.models import (
    Deal,
    Lead,
    Person,
    SpendDaily,
    Touchpoint,
    Visitor,
)

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
FX = {"GBP": Decimal("1.20")}


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def touch(tp_id, visitor, when, channel, source, medium, campaign=None, term=None, new=True):
    return Touchpoint(
        id=tp_id,
        visitor_id=visitor,
        occurred_at=when,
        url="https://shop.example/",
        channel=channel,
        source=source,
        medium=medium,
        campaign=campaign,
        term=term,
        is_new_session=new,
    )


@pytest.fixture
def fixture_db(runtime):
    deals = {
        "D1": ("1000", "USD", at(6), at(10), ["c1"], [1, 2]),
        "D2": ("500", "GBP", at(5), at(12), ["c2"], [3, 4]),
        "D3": ("300", "USD", at(14), at(15), ["c3"], []),
        "D5": ("200", "USD", at(18), at(20), ["c1"], [1, 2]),
    }
    with runtime.sessions.begin() as s:
        s.add_all([Person(id=i, email_sha256=f"{i:064x}") for i in (1, 2, 3)])
        s.add_all([Visitor(id=v, person_id=p) for v, p in (("v1", 1), ("v2", 2), ("v3", 3))])
        s.flush()
        tps = {
            1: touch(1, "v1", at(2), "Paid Search", "google", "cpc", "Brand", "acme"),
            2: touch(2, "v1", at(5), "Organic Search", "google", "organic"),
            3: touch(3, "v2", at(3), "Paid Social", "facebook", "paid_social", "Retarget"),
            4: touch(
                4, "v2", at(3, 1), "Paid Social", "facebook", "paid_social", "Retarget", new=False
            ),
            5: touch(5, "v3", at(4), "Direct", None, None),
        }
        s.add_all(tps.values())
        s.add_all(
            [
                Lead(person_id=1, visitor_id="v1", kind="form", occurred_at=at(5, 10)),
                Lead(person_id=2, visitor_id="v2", kind="call", occurred_at=at(4)),
                Lead(person_id=3, visitor_id="v3", kind="form", occurred_at=at(4, 1)),
            ]
        )
        s.flush()
        for deal_id, (amount, cur, created, close, contacts, touch_ids) in deals.items():
            s.add(
                Deal(
                    id=deal_id,
                    amount=Decimal(amount),
                    currency=cur,
                    created_time=created,
                    close_time=close,
                    is_won=True,
                    is_closed=True,
                    contact_ids=contacts,
                    stage="closedwon",
                    match_status="matched" if touch_ids else "no_journey",
                )
            )
            s.flush()
            s.add_all(
                attributions(
                    deal_id, amount, cur, close, [(t, tps[t].occurred_at) for t in touch_ids]
                )
            )
        s.add_all(
            [
                SpendDaily(
                    platform="google_ads",
                    day="2026-11-02",
                    campaign_id="g1",
                    campaign="Brand",
                    keyword_id="k1",
                    keyword="acme",
                    source="google",
                    medium="cpc",
                    channel="Paid Search",
                    currency="USD",
                    cost=Decimal("100"),
                    clicks=10,
                ),
                SpendDaily(
                    platform="meta",
                    day="2026-11-03",
                    campaign_id="m1",
                    campaign="Retarget",
                    source="facebook",
                    medium="paid_social",
                    channel="Paid Social",
                    currency="USD",
                    cost=Decimal("50"),
                    clicks=5,
                ),
            ]
        )
    return runtime


def report(rt, model, by="channel"):
    with rt.sessions() as s:
        data = source_report(s, NOV, by=by, model=model, currency="USD", fx_rates=FX)
    return {row["group"]: row for row in data["rows"]}, data["totals"]


def test_last_click_by_channel(fixture_db):
    """Last click: every number and KPI of every row matches the hand computation."""
    rows, totals = report(fixture_db, "last_click")
    organic, search, social = rows["Organic Search"], rows["Paid Search"], rows["Paid Social"]
    assert (organic["visits"], organic["leads"], organic["leads_form"]) == (1, 1, 1)
    assert (organic["won_deals"], organic["customers"], organic["revenue"]) == (
        2,
        1,
        Decimal("1200.00"),
    )
    assert organic["opportunities"] == 2
    assert organic["kpis"]["lead_value"] == Decimal("1200.00")
    assert organic["kpis"]["avg_deal_size"] == Decimal("600.00")
    assert organic["kpis"]["roi"] is None  # no spend: undefined, shown as "—"
    assert (search["visits"], search["leads"], search["revenue"], search["spend"]) == (
        1,
        0,
        Decimal("0.00"),
        Decimal("100.00"),
    )
    assert search["kpis"]["lead_value"] is None and search["kpis"]["cost_per_lead"] is None
    assert search["kpis"]["roi"] == Decimal("-1.0000")
    assert (social["visits"], social["leads"], social["leads_call"]) == (1, 1, 1)
    assert (social["revenue"], social["spend"], social["customers"]) == (
        Decimal("600.00"),
        Decimal("50.00"),
        1,
    )
    assert social["kpis"]["cost_per_lead"] == Decimal("50.00")
    assert social["kpis"]["cac"] == Decimal("50.00")
    assert social["kpis"]["roi"] == Decimal("11.0000")
    assert social["kpis"]["lead_to_sale"] == Decimal("1.0000")
    assert rows["Direct"]["leads"] == 1 and rows["Direct"]["revenue"] == 0
    assert rows["(no journey)"]["revenue"] == Decimal("300.00")
    assert rows["(no journey)"]["won_deals"] == 1
    assert totals["revenue"] == Decimal("2100.00")
    assert (totals["visits"], totals["leads"], totals["won_deals"]) == (4, 3, 4)
    assert totals["customers"] == 3
    assert totals["spend"] == Decimal("150.00")
    assert totals["kpis"]["roi"] == Decimal("13.0000")


def test_first_click_credits_the_first_touch(fixture_db):
    """First click moves v1's lead and revenue to Paid Search."""
    rows, totals = report(fixture_db, "first_click")
    search = rows["Paid Search"]
    assert (search["leads"], search["won_deals"], search["revenue"]) == (1, 2, Decimal("1200.00"))
    assert search["kpis"]["roi"] == Decimal("11.0000")
    assert search["kpis"]["cost_per_lead"] == Decimal("100.00")
    assert rows["Organic Search"]["revenue"] == 0
    assert totals["revenue"] == Decimal("2100.00")


@pytest.mark.parametrize("model", ["linear", "position_based"])
def test_even_split_models(fixture_db, model):
    """Linear and position-based (two touches: 50/50) split v1's deals evenly."""
    rows, totals = report(fixture_db, model)
    assert rows["Paid Search"]["revenue"] == Decimal("600.00")
    assert rows["Organic Search"]["revenue"] == Decimal("600.00")
    assert rows["Paid Search"]["won_deals"] == 1
    assert rows["Paid Search"]["customers"] == Decimal("0.50")
    assert totals["revenue"] == Decimal("2100.00")


def test_time_decay(fixture_db):
    """Time decay (7-day half-life): 2^(-3/7) ≈ 0.743 → 42.63 % / 57.37 % of each v1 deal."""
    rows, totals = report(fixture_db, "time_decay")
    assert rows["Paid Search"]["revenue"] == Decimal("511.54")  # 426.28 + 85.26
    assert rows["Organic Search"]["revenue"] == Decimal("688.46")  # 573.72 + 114.74
    assert totals["revenue"] == Decimal("2100.00")


def test_by_campaign_and_keyword_join_spend(fixture_db):
    """Campaign and keyword groupings meet the platforms' spend on the same names."""
    campaigns, _ = report(fixture_db, "first_click", by="campaign")
    assert campaigns["Brand"]["spend"] == Decimal("100.00")
    assert campaigns["Brand"]["revenue"] == Decimal("1200.00")
    assert campaigns["Retarget"]["kpis"]["roi"] == Decimal("11.0000")
    keywords, _ = report(fixture_db, "first_click", by="keyword")
    assert keywords["acme"]["revenue"] == Decimal("1200.00")
    source_medium, _ = report(fixture_db, "last_click", by="source_medium")
    assert source_medium["google / organic"]["revenue"] == Decimal("1200.00")
    assert source_medium["(direct) / (none)"]["leads"] == 1


def test_currency_without_rate_is_excluded_and_named(fixture_db):
    """A deal currency with no configured rate is left out of sums and listed, not added 1:1."""
    with fixture_db.sessions() as s:
        data = source_report(s, NOV, model="last_click", currency="USD", fx_rates={})
    assert data["unconverted_currencies"] == ["GBP"]
    assert data["totals"]["revenue"] == Decimal("1500.00")


def test_model_comparison_side_by_side(fixture_db):
    """The comparison shows each channel's revenue under all five models."""
    with fixture_db.sessions() as s:
        data = model_comparison(s, NOV, currency="USD", fx_rates=FX)
    search = next(r for r in data["rows"] if r["group"] == "Paid Search")["revenue"]
    # The five rule-based models; the data-driven ones: tests/reports/test_data_driven_report.py
    assert {m: search[m] for m in MODELS} == {
        "first_click": Decimal("1200.00"),
        "last_click": Decimal("0.00"),
        "linear": Decimal("600.00"),
        "time_decay": Decimal("511.54"),
        "position_based": Decimal("600.00"),
    }
    orphans = next(r for r in data["rows"] if r["group"] == "(no journey)")["revenue"]
    assert {m: orphans[m] for m in MODELS} == dict.fromkeys(MODELS, Decimal("300.00"))  # D3


def test_display_of_undefined_and_percent():
    """Undefined values show as an em dash, ratios as percentages."""
    assert display(None, "percent") == "—"
    assert display(Decimal("0.1234"), "percent") == "12.3%"
    assert display(Decimal("1234.5"), "money") == "1,234.50"


KPI_ORDER = (
    "lead_value",
    "cost_per_lead",
    "cac",
    "lead_to_sale",
    "avg_deal_size",
    "revenue_per_customer",
    "roi",
    "mql_to_sql",
)
COUNT_ORDER = (
    "visits",
    "leads",
    "leads_form",
    "leads_call",
    "opportunities",
    "won_deals",
    "customers",
    "revenue",
    "spend",
)
# Rows every model agrees on: v2's deal is all Paid Social, v3 is Direct only, D3 has no journey.
SOCIAL = (
    (1, 1, 0, 1, 1, 1, 1, "600.00", "50.00"),
    ("600.00", "50.00", "50.00", "1.0000", "600.00", "600.00", "11.0000", None),
)
DIRECT = ((1, 1, 1, 0, 0, 0, 0, "0", "0"), ("0.00", "0.00", None, "0.0000", None, None, None, None))
NO_JOURNEY = (
    (0, 0, 0, 0, 1, 1, 1, "300.00", "0"),
    (None, None, "0.00", None, "300.00", "300.00", None, None),
)
TOTAL = (
    (4, 3, 2, 1, 4, 4, 3, "2100.00", "150.00"),
    ("700.00", "50.00", "50.00", "1.3333", "525.00", "700.00", "13.0000", None),
)
NOTHING = (None,) * 8
HALF_PS = (
    (1, 0, 0, 0, 1, 1, "0.5", "600.00", "100.00"),  # half of D1 and half of D5 (a repeat)
    (None, None, "200.00", None, "600.00", "1200.00", "5.0000", None),  # CAC 100 / 0.5
)
HALF_ORGANIC = (
    (1, 1, 1, 0, 1, 1, "0.5", "600.00", "0"),
    ("600.00", "0.00", "0.00", "1.0000", "600.00", "1200.00", None, None),
)
# Time decay, 7-day half-life: Paid Search is 3 days older than Organic at both closes, so it
# holds a = 1 / (1 + 2^(3/7)) = 0.4262755948 (stored weight) of D1 and of D5:
# won 2a = 0.8526, customers a (D5 is a repeat), revenue 426.28 + 85.26 = 511.54;
# CAC 100 / a = 234.59, avg deal 511.54 / 2a = 600.01, revenue per customer 511.54 / a =
# 1200.02, ROI (511.54 - 100) / 100 = 4.1154. Organic holds 1 - a: won 1.1474, revenue
# 573.72 + 114.74 = 688.46, avg 688.46 / 1.1474 = 599.99, per customer 1199.98.
EXPECTED = {
    "first_click": {
        "Paid Search": (
            (1, 1, 1, 0, 2, 2, 1, "1200.00", "100.00"),
            ("1200.00", "100.00", "100.00", "2.0000", "600.00", "1200.00", "11.0000", None),
        ),
        "Organic Search": ((1, 0, 0, 0, 0, 0, 0, "0", "0"), NOTHING),
    },
    "last_click": {
        "Paid Search": ((1, 0, 0, 0, 0, 0, 0, "0", "100.00"), (*(None,) * 6, "-1.0000", None)),
        "Organic Search": (
            (1, 1, 1, 0, 2, 2, 1, "1200.00", "0"),
            ("1200.00", "0.00", "0.00", "2.0000", "600.00", "1200.00", None, None),
        ),
    },
    "linear": {"Paid Search": HALF_PS, "Organic Search": HALF_ORGANIC},
    "position_based": {"Paid Search": HALF_PS, "Organic Search": HALF_ORGANIC},
    "time_decay": {
        "Paid Search": (
            (1, 0, 0, 0, "0.85", "0.85", "0.43", "511.54", "100.00"),
            (None, None, "234.59", None, "600.01", "1200.02", "4.1154", None),
        ),
        "Organic Search": (
            (1, 1, 1, 0, "1.15", "1.15", "0.57", "688.46", "0"),
            ("688.46", "0.00", "0.00", "1.1474", "599.99", "1199.98", None, None),
        ),
    },
}


def _as_expected(values):
    return tuple(None if v is None else Decimal(str(v)) for v in values)


@pytest.mark.parametrize("model", MODELS)
def test_every_count_and_kpi_under_every_model(fixture_db, model):
    """Each row's counts and all eight KPIs equal the hand computation, for all five models."""
    rows, totals = report(fixture_db, model)
    expected = {
        **EXPECTED[model],
        "Paid Social": SOCIAL,
        "Direct": DIRECT,
        "(no journey)": NO_JOURNEY,
    }
    assert set(rows) == set(expected)
    for group, (counts, kpis) in [*expected.items(), ("Total", TOTAL)]:
        row = totals if group == "Total" else rows[group]
        got_counts = tuple(Decimal(str(row[k])) for k in COUNT_ORDER)
        assert got_counts == _as_expected(counts), (model, group)
        got_kpis = tuple(row["kpis"][k] for k in KPI_ORDER)
        assert got_kpis == _as_expected(kpis), (model, group)


def test_opportunities_without_a_journey_count_on_their_row(fixture_db):
    """A deal created in the range that the sync could not match is an opportunity too."""
    with fixture_db.sessions.begin() as s:
        s.add(
            Deal(
                id="D9",
                amount=Decimal("50"),
                currency="USD",
                created_time=at(16),
                stage="appointmentscheduled",
                contact_ids=["c9"],
                match_status="contact_never_tracked",
            )
        )
    rows, totals = report(fixture_db, "linear")
    assert rows["(no journey)"]["opportunities"] == 2  # D3 (won) and D9 (open)
    assert rows["(no journey)"]["won_deals"] == 1
    assert totals["opportunities"] == 5
