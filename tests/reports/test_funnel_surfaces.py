"""``/api/reports/funnel|velocity`` and ``closedloop report funnel|velocity``: same numbers.

On the hand-computed world of funnel_world.py (November 2026): Paid Search period MQL→SQL
3/2 = 150 %, cohort 1/2 = 50 %; sales cycle median 14 days, p75 18.5.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from reports_conftest import DASHBOARD_TOKEN

from connector.cli import cli

_spec = importlib.util.spec_from_file_location(
    "funnel_world", Path(__file__).with_name("funnel_world.py")
)
assert _spec and _spec.loader
world = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(world)

NOV = {"from": "2026-11-01", "to": "2026-11-30"}
AUTH = {"Authorization": f"Bearer {DASHBOARD_TOKEN}"}


@pytest.fixture
def api(report_app):
    """A test client over the lifecycle world."""
    world.seed(report_app.extensions["closedloop"])
    return report_app.test_client()


def groups(document: dict) -> dict[str, dict]:
    return {row["group"]: row for row in document["rows"]}


@pytest.mark.parametrize("endpoint", ["funnel", "velocity"])
def test_new_reports_need_a_token(api, endpoint):
    """Without a token both answer 401 with a JSON error, like every report."""
    response = api.get(f"/api/reports/{endpoint}", query_string=NOV)
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"


def test_funnel_api_period_and_cohort(api):
    """JSON numbers: Paid Search MQL→SQL 1.5 in period mode, 0.5 in cohort mode."""
    period = api.get(
        "/api/reports/funnel", query_string={**NOV, "model": "last_click"}, headers=AUTH
    )
    assert period.status_code == 200, period.json
    assert groups(period.json)["Paid Search"]["rates"]["mql_to_sql"] == 1.5
    assert groups(period.json)["Organic Search"]["costs"]["cac"] is None
    cohort = api.get(
        "/api/reports/funnel",
        query_string={**NOV, "model": "last_click", "mode": "cohort"},
        headers=AUTH,
    )
    assert cohort.status_code == 200, cohort.json
    assert cohort.json["mode"] == "cohort"
    assert groups(cohort.json)["Paid Search"]["rates"]["mql_to_sql"] == 0.5


def test_velocity_api(api):
    """Paid Search sales cycle: median 14 days, p75 18.5 (5 and 23 days)."""
    response = api.get(
        "/api/reports/velocity", query_string={**NOV, "model": "last_click"}, headers=AUTH
    )
    assert response.status_code == 200, response.json
    cycle = groups(response.json)["Paid Search"]["sales_cycle"]
    assert (cycle["count"], cycle["median_days"], cycle["p75_days"]) == (2, 14, 18.5)


@pytest.mark.parametrize(
    ("endpoint", "params", "named"),
    [
        ("funnel", {"mode": "weekly"}, "mode:"),
        ("funnel", {"by": "country"}, "by:"),
        ("funnel", {"model": "u_shaped"}, "model:"),
        ("funnel", {"from": "2026-13-01"}, "from:"),
        ("velocity", {"by": "device"}, "by:"),
        ("velocity", {"model": "u_shaped"}, "model:"),
        ("velocity", {"from": "2026-11-10", "to": "2026-11-01"}, "to:"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(api, endpoint, params, named):
    """A bad mode, grouping, model or date is a 400 JSON error naming the parameter."""
    response = api.get(f"/api/reports/{endpoint}", query_string=params, headers=AUTH)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert response.json["detail"].startswith(named)


def test_openapi_documents_both(api):
    """/openapi.json lists both paths with their mode/by/model parameters."""
    spec = api.get("/openapi.json").json
    funnel = spec["paths"]["/api/reports/funnel"]["get"]
    names = {p["name"] for p in funnel["parameters"]}
    assert {"from", "to", "by", "model", "mode"} <= names
    assert "/api/reports/velocity" in spec["paths"]


@pytest.fixture
def config(tmp_path, db_url, runtime):
    """A config file on the test database, seeded with the lifecycle world."""
    world.seed(runtime)
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump({"database": {"url": db_url}, "currency": "USD"}))
    return str(path)


def run(config: str, *args: str):
    return CliRunner().invoke(
        cli, ["-c", config, "report", *args, "--from", "2026-11-01", "--to", "2026-11-30"]
    )


def test_cli_funnel_json_is_the_api_document(config, report_app):
    """--format json equals the API's answer for the same parameters (one seeded store)."""
    api = report_app.test_client()
    result = run(config, "funnel", "--mode", "cohort", "--model", "last_click", "--format", "json")
    assert result.exit_code == 0, result.output
    answer = api.get(
        "/api/reports/funnel",
        query_string={**NOV, "model": "last_click", "mode": "cohort"},
        headers=AUTH,
    )
    assert json.loads(result.output)["rows"] == answer.json["rows"]


def test_cli_funnel_csv_and_table(config):
    """CSV has raw values (empty for None); the table shows percentages and dashes."""
    result = run(config, "funnel", "--model", "last_click", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = {line["channel"]: line for line in csv.DictReader(io.StringIO(result.output))}
    assert lines["Paid Search"]["mql_to_sql"] == "1.5000"
    assert lines["Paid Search"]["cost_per_sql"] == "100.00"
    assert lines["Organic Search"]["cac"] == ""
    assert lines["Total"]["visitors"] == "4"
    table = run(config, "funnel", "--model", "last_click")
    assert table.exit_code == 0, table.output
    assert "150.0%" in table.output and "—" in table.output


def test_cli_velocity_csv(config):
    """CSV columns per measure: count, median and p75 days."""
    result = run(config, "velocity", "--model", "last_click", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = {line["channel"]: line for line in csv.DictReader(io.StringIO(result.output))}
    paid = lines["Paid Search"]
    assert (paid["mql_to_sql_count"], paid["mql_to_sql_median_days"]) == ("3", "16.00")
    assert paid["mql_to_sql_p75_days"] == "16.50"
    table = run(config, "velocity", "--model", "last_click")
    assert table.exit_code == 0 and "percentile_cont" in table.output
