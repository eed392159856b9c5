"""``attribution.ignore_direct``: a Direct touch takes a lead's credit only when nothing else did.

Hand-computed fixture (November 2026), leads credited at or before the lead:

| visitor | touches up to the lead                    | lead         | later          |
| ------- | ----------------------------------------- | ------------ | -------------- |
| w1      | Direct 2, Paid Search 3 (Brand), Direct 4 | form 4 12:00 |                |
| w2      | Direct 5                                  | call 5 01:00 |                |
| w3      | Direct 6, Organic Search 7                | form 7 01:00 | Paid Social 8  |

(Days of November.)

ignore_direct true (GA4's last non-direct click): last click and first click both give
Paid Search 1 (w1), Direct 1 (w2, nothing else), Organic Search 1 (w3); Paid Social 0 (after the
lead). ignore_direct false: last click gives Direct 2 (w1, w2), Organic Search 1; first click
gives Direct 3. Paid Search spend is 60, so its cost per lead is 60.00 with the rule and
undefined ("—") without it. Visits do not move: Direct 4, the others 1 each.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import yaml
from click.testing import CliRunner
from reports_conftest import DASHBOARD_TOKEN

from connector.cli import cli
from connector.reports import ReportRange, source_report
from connector.storage.models import Lead, Person, SpendDaily, Touchpoint, Visitor

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
DIRECT = ("Direct", None, None, None, None)
PAID = ("Paid Search", "google", "cpc", "Brand", "acme")
ORGANIC = ("Organic Search", "google", "organic", None, None)
SOCIAL = ("Paid Social", "facebook", "paid_social", "Retarget", None)
JOURNEYS = {
    "w1": ([(2, DIRECT), (3, PAID), (4, DIRECT)], ("form", 4, 12)),
    "w2": ([(5, DIRECT)], ("call", 5, 1)),
    "w3": ([(6, DIRECT), (7, ORGANIC), (8, SOCIAL)], ("form", 7, 1)),
}


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def seed(sessions) -> None:
    """Store the three journeys, their leads and Paid Search's spend."""
    with sessions.begin() as s:
        next_id = 1
        for n, (visitor, (touches, (kind, day, hour))) in enumerate(JOURNEYS.items(), start=1):
            s.add(Person(id=n, email_sha256=f"{n:064x}"))
            s.add(Visitor(id=visitor, person_id=n))
            s.flush()
            for touch_day, (channel, source, medium, campaign, term) in touches:
                s.add(
                    Touchpoint(
                        id=next_id,
                        visitor_id=visitor,
                        occurred_at=at(touch_day),
                        url="https://shop.example/",
                        channel=channel,
                        source=source,
                        medium=medium,
                        campaign=campaign,
                        term=term,
                        is_new_session=True,
                    )
                )
                next_id += 1
            s.add(Lead(person_id=n, visitor_id=visitor, kind=kind, occurred_at=at(day, hour)))
        s.add(
            SpendDaily(
                platform="google_ads",
                day="2026-11-03",
                campaign_id="g1",
                campaign="Brand",
                keyword_id="k1",
                keyword="acme",
                source="google",
                medium="cpc",
                channel="Paid Search",
                currency="USD",
                cost=Decimal("60"),
                clicks=6,
            )
        )


@pytest.fixture
def journeys(runtime):
    seed(runtime.sessions)
    return runtime


def leads(rt, *, model: str, ignore_direct: bool, by: str = "channel") -> dict[str, tuple]:
    """{group: (leads, form, call)} for groups with leads, plus the report's rows."""
    with rt.sessions() as s:
        data = source_report(s, NOV, by=by, model=model, ignore_direct=ignore_direct)
    assert data["ignore_direct"] is ignore_direct
    return {
        r["group"]: (r["leads"], r["leads_form"], r["leads_call"])
        for r in data["rows"]
        if r["leads"]
    }


@pytest.mark.parametrize(
    ("model", "ignore_direct", "expected"),
    [
        (
            "last_click",
            True,
            {"Paid Search": (1, 1, 0), "Direct": (1, 0, 1), "Organic Search": (1, 1, 0)},
        ),
        (
            "first_click",
            True,
            {"Paid Search": (1, 1, 0), "Direct": (1, 0, 1), "Organic Search": (1, 1, 0)},
        ),
        (
            "linear",
            True,
            {"Paid Search": (1, 1, 0), "Direct": (1, 0, 1), "Organic Search": (1, 1, 0)},
        ),
        ("last_click", False, {"Direct": (2, 1, 1), "Organic Search": (1, 1, 0)}),
        ("first_click", False, {"Direct": (3, 2, 1)}),
        ("time_decay", False, {"Direct": (2, 1, 1), "Organic Search": (1, 1, 0)}),
    ],
)
def test_lead_credit_by_channel(journeys, model, ignore_direct, expected):
    """Leads per channel under both settings match the hand-computed table."""
    assert leads(journeys, model=model, ignore_direct=ignore_direct) == expected


@pytest.mark.parametrize(
    ("by", "ignore_direct", "expected"),
    [
        (
            "source_medium",
            True,
            {
                "google / cpc": (1, 1, 0),
                "(direct) / (none)": (1, 0, 1),
                "google / organic": (1, 1, 0),
            },
        ),
        ("source_medium", False, {"(direct) / (none)": (3, 2, 1)}),
        ("campaign", True, {"Brand": (1, 1, 0), "(not set)": (2, 1, 1)}),
        ("keyword", True, {"acme": (1, 1, 0), "(not set)": (2, 1, 1)}),
        ("keyword", False, {"(not set)": (3, 2, 1)}),
    ],
)
def test_lead_credit_by_other_groupings(journeys, by, ignore_direct, expected):
    """The rule picks the touch; every grouping then reads that touch's own fields."""
    assert leads(journeys, model="first_click", ignore_direct=ignore_direct, by=by) == expected


@pytest.mark.parametrize("ignore_direct", [True, False])
def test_kpis_and_visits_under_both_settings(journeys, ignore_direct):
    """Cost per lead follows the credited leads; visits stay where the sessions started."""
    with journeys.sessions() as s:
        data = source_report(s, NOV, model="last_click", ignore_direct=ignore_direct)
    rows = {r["group"]: r for r in data["rows"]}
    visits = {group: row["visits"] for group, row in rows.items()}
    assert visits == {"Direct": 4, "Paid Search": 1, "Organic Search": 1, "Paid Social": 1}
    search = rows["Paid Search"]["kpis"]
    if ignore_direct:
        assert (search["cost_per_lead"], search["lead_value"]) == (Decimal("60.00"), Decimal(0))
        assert rows["Direct"]["kpis"]["lead_to_sale"] == Decimal("0.0000")
    else:
        assert (search["cost_per_lead"], search["lead_value"]) == (None, None)
        assert rows["Direct"]["kpis"]["cost_per_lead"] == Decimal("0.00")
    assert data["totals"]["leads"] == 3
    assert data["totals"]["kpis"]["cost_per_lead"] == Decimal("20.00")


@pytest.mark.parametrize("ignore_direct", [True, False])
def test_api_follows_the_config_key(make_settings, make_app, dashboard_config, ignore_direct):
    """GET /api/reports/sources reads attribution.ignore_direct from the config."""
    config = {**dashboard_config, "attribution": {"ignore_direct": ignore_direct}}
    app = make_app(make_settings(config))
    seed(app.extensions["closedloop"].sessions)
    response = app.test_client().get(
        "/api/reports/sources",
        query_string={"from": "2026-11-01", "to": "2026-11-30", "model": "last_click"},
        headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"},
    )
    body = response.json
    assert body["ignore_direct"] is ignore_direct
    rows = {r["group"]: r for r in body["rows"]}
    assert rows["Direct"]["leads"] == (1 if ignore_direct else 2)
    assert rows["Paid Search"]["kpis"]["cost_per_lead"] == (60 if ignore_direct else None)


def test_cli_follows_the_config_key(tmp_path, db_url, journeys):
    """``closedloop report sources`` with ignore_direct: false credits w1's lead to Direct."""
    path = tmp_path / "closedloop.yaml"
    path.write_text(
        yaml.safe_dump({"database": {"url": db_url}, "attribution": {"ignore_direct": False}})
    )
    args = ["report", "sources", "--from", "2026-11-01", "--to", "2026-11-30"]
    args += ["--model", "last_click", "--format", "json"]
    result = CliRunner().invoke(cli, ["-c", str(path), *args])
    assert result.exit_code == 0, result.output
    rows = {r["group"]: r for r in json.loads(result.output)["rows"]}
    assert rows["Direct"]["leads"] == 2 and rows["Paid Search"]["leads"] == 0
