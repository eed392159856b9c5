"""Conversion paths against hand-computed journeys (SQLite and PostgreSQL).

Deals (November 2026, USD), their attribution rows' touches in time order:
- D1 1000 won Nov 10: Paid Search Nov 1, Paid Search Nov 2, Email Nov 3, Paid Search Nov 4
  -> "Paid Search > Email > Paid Search" (repeats merged), 9 days from the first touch;
- D2 600 won Nov 12: Paid Search Nov 2, Email Nov 5, Paid Search Nov 6 -> the same path, 10 days;
- D3 300 won Nov 20: Organic Search Nov 14 -> "Organic Search", 6 days;
- D4 200 won Nov 25: Email Nov 20, Email Nov 21 -> "Email", 5 days;
- D5 100 won Nov 15 without a journey; D6 won Dec 3 (outside the range).
Leads (sessions of the lead's visitor up to the lead):
- L1 Nov 5 12:00 on v1 (D1's touches; v1's Organic Search visit Nov 6 is after the lead);
- L2 Nov 8 06:00 on v2: Direct Nov 6, Organic Search Nov 7, Direct Nov 8;
- L3 Nov 9 12:00 on v3: Direct Nov 9 only; L4 on v4 who has no visit.
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
from connector.reports import ReportRange
from connector.reports.paths import collapse, conversion_paths
from connector.storage.models import Deal, Lead, Person, Touchpoint, Visitor

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
PSEP = "Paid Search > Email > Paid Search"


def at(day: int, hour: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


TOUCHES = {  # id: (visitor, time, channel)
    1: ("v1", at(1), "Paid Search"),
    2: ("v1", at(2), "Paid Search"),
    3: ("v1", at(3), "Email"),
    4: ("v1", at(4), "Paid Search"),
    9: ("v1", at(6), "Organic Search"),
    5: ("v2", at(6), "Direct"),
    6: ("v2", at(7), "Organic Search"),
    7: ("v2", at(8), "Direct"),
    8: ("v3", at(9), "Direct"),
    10: ("v5", at(2), "Paid Search"),
    11: ("v5", at(5), "Email"),
    12: ("v5", at(6), "Paid Search"),
    13: ("v6", at(14), "Organic Search"),
    14: ("v7", at(20), "Email"),
    15: ("v7", at(21), "Email"),
}
DEALS = {  # id: (amount, close, touch ids)
    "D1": ("1000", at(10), [1, 2, 3, 4]),
    "D2": ("600", at(12), [10, 11, 12]),
    "D3": ("300", at(20), [13]),
    "D4": ("200", at(25), [14, 15]),
    "D5": ("100", at(15), []),
    "D6": ("50", at(3, month=12), [13]),
}


@pytest.fixture
def world(runtime):
    with runtime.sessions.begin() as s:
        s.add_all([Person(id=i, email_sha256=f"{i:064x}") for i in range(1, 5)])
        visitors = ["v1", "v2", "v3", "v4", "v5", "v6", "v7"]
        s.add_all([Visitor(id=v) for v in visitors])
        s.flush()
        for tp_id, (visitor, when, channel) in TOUCHES.items():
            s.add(
                Touchpoint(
                    id=tp_id,
                    visitor_id=visitor,
                    occurred_at=when,
                    url="https://shop.example/",
                    channel=channel,
                    is_new_session=True,
                )
            )
        for deal_id, (amount, close, tps) in DEALS.items():
            s.add(
                Deal(
                    id=deal_id,
                    amount=Decimal(amount),
                    currency="USD",
                    is_won=True,
                    is_closed=True,
                    close_time=close,
                    created_time=at(1),
                    contact_ids=[deal_id.lower()],
                    match_status="matched" if tps else "never_tracked",
                )
            )
        s.flush()
        for deal_id, (amount, close, tps) in DEALS.items():
            if tps:
                touches = [(t, TOUCHES[t][1]) for t in tps]
                s.add_all(attributions(deal_id, amount, "USD", close, touches))
        leads = [(1, "v1", at(5, 12)), (2, "v2", at(8, 6)), (3, "v3", at(9, 12)), (4, "v4", at(9))]
        s.add_all([Lead(person_id=p, visitor_id=v, occurred_at=when) for p, v, when in leads])
    return runtime


def paths(runtime, **kwargs):
    with runtime.sessions() as s:
        return conversion_paths(s, NOV, **kwargs)


def test_collapse_merges_consecutive_repeats_only():
    """GA4's path rule: A A B A is A > B > A, not A > B."""
    assert collapse(["A", "A", "B", "A"]) == ("A", "B", "A")
    assert collapse([]) == ()


def test_deal_paths_count_revenue_and_median_days(world):
    """Paths to won deals: counts, shares, revenue and median days, most frequent first."""
    data = paths(world)
    got = [
        (p["label"], p["conversions"], p["share"], p["revenue"], p["median_days"])
        for p in data["paths"]
    ]
    assert got == [
        (PSEP, 2, Decimal("0.5000"), Decimal("1600.00"), Decimal("9.50")),
        ("Organic Search", 1, Decimal("0.2500"), Decimal("300.00"), Decimal("6.00")),
        ("Email", 1, Decimal("0.2500"), Decimal("200.00"), Decimal("5.00")),
    ]
    assert data["conversions"] == 4 and data["distinct_paths"] == 3
    assert data["revenue"] == Decimal("2100.00")
    assert data["without_journey"] == 1  # D5
    assert data["paths"][0]["path"] == ["Paid Search", "Email", "Paid Search"]
    assert data["paths"][0]["steps"] == 3


def test_limit_keeps_the_top_paths(world):
    """limit=1: only the most frequent path; totals still cover every path."""
    data = paths(world, limit=1)
    assert [p["label"] for p in data["paths"]] == [PSEP]
    assert data["conversions"] == 4


def test_channel_filter_under_last_click(world):
    """channel=Email under last click: only D4 ends on Email."""
    data = paths(world, model="last_click", channel="Email")
    assert [(p["label"], p["credited_revenue"]) for p in data["paths"]] == [
        ("Email", Decimal("200.00"))
    ]


def test_channel_filter_under_linear_credits_shares(world):
    """channel=Email under linear: D1 gives Email 1/4 (250), D2 1/3 (200), D4 all (200)."""
    data = paths(world, model="linear", channel="Email")
    got = [(p["label"], p["conversions"], p["credited_revenue"]) for p in data["paths"]]
    assert got == [(PSEP, 2, Decimal("450.00")), ("Email", 1, Decimal("200.00"))]


def test_channel_filter_under_first_click(world):
    """channel=Paid Search under first click: D1 and D2 start on Paid Search."""
    data = paths(world, model="first_click", channel="Paid Search")
    assert [(p["label"], p["conversions"]) for p in data["paths"]] == [(PSEP, 2)]


def test_lead_paths_drop_direct_like_ga4(world):
    """Leads: Direct visits leave the path unless it is all Direct; later visits don't count."""
    data = paths(world, target="lead")
    got = [(p["label"], p["conversions"], p["median_days"]) for p in data["paths"]]
    assert got == [
        ("Direct", 1, Decimal("0.50")),  # L3, Nov 9 00:00 -> 12:00
        ("Organic Search", 1, Decimal("1.25")),  # L2, Nov 7 -> Nov 8 06:00
        (PSEP, 1, Decimal("4.50")),  # L1, Nov 1 -> Nov 5 12:00
    ]
    assert data["without_journey"] == 1  # L4
    assert data["revenue"] is None and "revenue" not in data["paths"][0]


def test_lead_paths_keep_direct_when_asked(world):
    """With ignore_direct off, L2's path is Direct > Organic Search > Direct from Nov 6."""
    data = paths(world, target="lead", ignore_direct=False)
    rows = {p["label"]: p for p in data["paths"]}
    assert rows["Direct > Organic Search > Direct"]["median_days"] == Decimal("2.25")


def test_lead_channel_filter(world):
    """Leads credited to Organic Search under last click: L2 only."""
    data = paths(world, target="lead", model="last_click", channel="Organic Search")
    assert [p["label"] for p in data["paths"]] == ["Organic Search"]


def test_unknown_target_or_model_is_refused(world):
    """A target or model outside the lists is a ValueError naming it."""
    with pytest.raises(ValueError, match="target"):
        paths(world, target="visit")
    with pytest.raises(ValueError, match="model"):
        paths(world, model="u_shaped")


# -- API and CLI -------------------------------------------------------------------------------
QUERY = {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.fixture
def api(world, make_app, make_settings, dashboard_config):
    return make_app(make_settings(dashboard_config)).test_client()


def get(api, **params):
    return api.get(
        "/api/reports/paths",
        query_string={**QUERY, **params},
        headers={"Authorization": f"Bearer {DASHBOARD_TOKEN}"},
    )


def test_api_paths(api):
    """GET /api/reports/paths answers the report as JSON numbers."""
    response = get(api, model="linear", channel="Email", limit="5")
    assert response.status_code == 200, response.json
    first = response.json["paths"][0]
    assert first["label"] == PSEP and first["credited_revenue"] == 450
    assert first["median_days"] == 9.5
    leads = get(api, target="lead").json
    assert leads["conversions"] == 3 and leads["without_journey"] == 1


def test_api_paths_needs_a_token(api):
    """Without a token the paths report is a 401."""
    assert api.get("/api/reports/paths", query_string=QUERY).status_code == 401


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"target": "visit"}, "target:"),
        ({"model": "u_shaped"}, "model:"),
        ({"limit": "0"}, "limit:"),
        ({"limit": "1001"}, "limit:"),
        ({"limit": "ten"}, "limit:"),
        ({"channel": "x" * 65}, "channel:"),
        ({"from": "2026-13-01"}, "from:"),
    ],
)
def test_api_paths_bad_parameters(api, params, named):
    """Bad parameters are 400 JSON errors naming the parameter, never 5xx."""
    response = get(api, **params)
    assert response.status_code == 400
    assert response.json["detail"].startswith(named)


def test_openapi_lists_paths(api):
    """/openapi.json documents the paths endpoint and its parameters."""
    doc = api.get("/openapi.json").json
    params = {p["name"] for p in doc["paths"]["/api/reports/paths"]["get"]["parameters"]}
    assert params == {"from", "to", "target", "model", "channel", "limit"}
    sources = doc["paths"]["/api/reports/sources"]["get"]["parameters"]
    assert "compare" in {p["name"] for p in sources}


@pytest.fixture
def config(tmp_path, db_url, world):
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "currency": "USD"}))
    return str(path)


def cli_paths(config, *args):
    dates = ["--from", "2026-11-01", "--to", "2026-11-30"]
    return CliRunner().invoke(cli, ["-c", config, "report", "paths", *dates, *args])


def test_cli_paths_table(config):
    """The table lists each path with conversions, share, revenue and median days."""
    result = cli_paths(config)
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith(PSEP))
    assert line.removeprefix(PSEP).split() == ["2", "50.0%", "1,600.00", "9.50"]
    assert "4 conversions on 3 paths; 1 without a journey" in result.output


def test_cli_paths_csv_and_json(config):
    """CSV has raw numbers per path; JSON is the API's document."""
    result = cli_paths(config, "--target", "lead", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [(r["path"], r["conversions"], r["median_days"]) for r in rows] == [
        ("Direct", "1", "0.50"),
        ("Organic Search", "1", "1.25"),
        (PSEP, "1", "4.50"),
    ]
    assert "revenue" not in rows[0]
    data = json.loads(cli_paths(config, "--channel", "Email", "--format", "json").output)
    assert [p["label"] for p in data["paths"]] == ["Email"]


def test_cli_paths_bad_limit_is_usage_error(config):
    """--limit 0 exits with 2."""
    assert cli_paths(config, "--limit", "0").exit_code == 2
