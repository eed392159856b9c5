"""``/api/reports/*``: who may read, how bad parameters are refused, and JSON numbers."""

from __future__ import annotations

import pytest
from reports_conftest import DASHBOARD_TOKEN, TRIGGER_TOKEN, seed_small_world

NOV = {"from": "2026-11-01", "to": "2026-11-30"}
ENDPOINTS = ["sources", "opportunities", "delivery", "models"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(report_app):
    """A test client over the one-deal world."""
    seed_small_world(report_app.extensions["closedloop"].sessions)
    return report_app.test_client()


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_reports_need_a_token(api, endpoint):
    """Without a token (or with a wrong one) every report answers 401 with a JSON error."""
    response = api.get(f"/api/reports/{endpoint}", query_string=NOV)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    wrong = api.get(f"/api/reports/{endpoint}", query_string=NOV, headers=bearer("nope"))
    assert wrong.status_code == 401


@pytest.mark.parametrize("token", [DASHBOARD_TOKEN, TRIGGER_TOKEN])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_dashboard_and_trigger_tokens_are_accepted(api, endpoint, token):
    """Both dashboard.token and server.trigger_token read every report."""
    response = api.get(f"/api/reports/{endpoint}", query_string=NOV, headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json["range"] == {"from": "2026-11-01", "to": "2026-11-30"}


@pytest.mark.parametrize(
    ("endpoint", "params", "named"),
    [
        ("sources", {"from": "2026-13-01"}, "from:"),
        ("sources", {"from": "2026-11-01", "to": "yesterday"}, "to:"),
        ("delivery", {"from": "2026-11-10", "to": "2026-11-01"}, "to:"),
        ("sources", {"by": "country"}, "by:"),
        ("sources", {"model": "u_shaped"}, "model:"),
        ("models", {"by": "device"}, "by:"),
        ("opportunities", {"touch": "middle"}, "touch:"),
        ("opportunities", {"by": "campaign"}, "by:"),
        ("sources", {"from": "2026-11-01", "to": "9999-12-31"}, "to: must be 9999-12-30"),
        ("delivery", {"from": "9999-12-01", "to": "9999-12-31"}, "to: must be 9999-12-30"),
        ("models", {"from": "0001-01-01", "to": "9999-12-30"}, "to: a range may span at"),
        ("sources", {"from": "2015-01-01", "to": "2026-01-01"}, "to: a range may span at"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api, endpoint, params, named):
    """Bad dates, a reversed range, or an unknown grouping/model: 400 naming the parameter."""
    response = api.get(
        f"/api/reports/{endpoint}", query_string=params, headers=bearer(DASHBOARD_TOKEN)
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert response.json["detail"].startswith(named)


def test_source_report_json_has_numbers_and_nulls(api):
    """Money and KPIs are JSON numbers (not strings); undefined KPIs are null."""
    response = api.get(
        "/api/reports/sources",
        query_string={**NOV, "model": "last_click"},
        headers=bearer(DASHBOARD_TOKEN),
    )
    body = response.json
    assert body["model"] == "last_click" and body["by"] == "channel"
    rows = {row["group"]: row for row in body["rows"]}
    search = rows["Paid Search"]
    assert search["revenue"] == 1000 and isinstance(search["revenue"], (int, float))
    assert search["spend"] == 100 and search["clicks"] == 12
    assert (search["visits"], search["leads"], search["won_deals"]) == (1, 1, 1)
    assert search["kpis"]["roi"] == 9.0
    assert search["kpis"]["cost_per_lead"] == 100
    assert search["kpis"]["lead_to_sale"] == 1.0
    direct = rows["Direct"]
    assert direct["visits"] == 1 and direct["revenue"] == 0
    assert direct["kpis"]["lead_value"] is None and direct["kpis"]["roi"] is None
    assert body["totals"]["revenue"] == 1000


def test_grouping_and_model_parameters_change_the_report(api):
    """by=keyword groups by the keyword; model=linear reads the linear attribution rows."""
    response = api.get(
        "/api/reports/sources",
        query_string={**NOV, "by": "keyword", "model": "linear"},
        headers=bearer(TRIGGER_TOKEN),
    )
    rows = {row["group"]: row for row in response.json["rows"]}
    assert response.json["model"] == "linear"
    assert rows["acme"]["revenue"] == 1000 and rows["acme"]["spend"] == 100


def test_model_comparison_and_delivery_json(api):
    """The comparison lists every model; delivery reports statuses and match rates."""
    models = api.get("/api/reports/models", query_string=NOV, headers=bearer(DASHBOARD_TOKEN))
    search = next(r for r in models.json["rows"] if r["group"] == "Paid Search")
    assert set(search["revenue"]) == set(models.json["models"])
    assert all(value == 1000 for value in search["revenue"].values())
    delivery = api.get(
        "/api/reports/delivery", query_string=NOV, headers=bearer(DASHBOARD_TOKEN)
    ).json
    assert delivery["won_revenue"] == 1000 and delivery["journey_match_rate"] == 1.0
    assert delivery["platforms"]["meta"]["by_status"]["dead"] == {"conversions": 1, "value": 1000}
    assert delivery["platforms"]["google_ads"]["match_rate"] == 1.0


def test_reports_are_in_the_openapi_document(api):
    """Every report endpoint is documented with its parameters."""
    paths = api.get("/openapi.json").json["paths"]
    for endpoint in ENDPOINTS:
        assert f"/api/reports/{endpoint}" in paths
    names = [p["name"] for p in paths["/api/reports/sources"]["get"]["parameters"]]
    dims = ["channel", "source_medium", "campaign", "keyword", "ad"]
    assert names == ["from", "to", "by", "model", "compare", *dims]
