"""Dashboard CSV links: the same file as ``closedloop report X --format csv`` for the same view."""

from __future__ import annotations

import csv
import io
import re

import pytest
import yaml
from click.testing import CliRunner
from reports_conftest import PASSWORD, USERNAME, seed_drill_world

from connector.cli import cli

NOV = "from=2026-11-01&to=2026-11-30"


@pytest.fixture
def browser(report_app):
    """A logged-in test client over the drill world (two paid channels, spend, two deals)."""
    seed_drill_world(report_app.extensions["closedloop"].sessions)
    client = report_app.test_client()
    form = client.get("/dashboard/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    login = {"csrf": csrf, "username": USERNAME, "password": PASSWORD}
    assert client.post("/dashboard/login", data=login).status_code == 302
    return client


@pytest.fixture
def config(tmp_path, db_url, dashboard_config):
    """A CLI config on the same database with the dashboard's currency and rates."""
    path = tmp_path / "closedloop.yaml"
    tree = {"database": {"url": db_url}, "reports": dashboard_config["reports"]}
    path.write_text(yaml.safe_dump(tree))
    return str(path)


def cli_csv(config: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["-c", config, "report", *args, "--format", "csv"])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes.decode()  # .stdout turns the CSV's CRLF into LF


@pytest.mark.parametrize(
    ("name", "query", "args"),
    [
        ("sources", "by=channel", ["sources", "--by", "channel"]),
        ("sources", "by=campaign&model=first_click", ["sources", "--by", "campaign"]),
        ("opportunities", "touch=last", ["opportunities", "--touch", "last"]),
        ("delivery", "", ["delivery"]),
        ("models", "by=keyword", ["models", "--by", "keyword"]),
        ("sources", "compare=previous", ["sources", "--compare", "previous"]),
        ("paths", "", ["paths"]),
        ("funnel", "by=campaign", ["funnel", "--by", "campaign"]),
        ("funnel", "funnel=cohort", ["funnel", "--mode", "cohort"]),
        ("velocity", "by=source_medium", ["velocity", "--by", "source_medium"]),
        (
            "paths",
            "target=lead&by=source_medium&channel=Paid+Search",
            ["paths", "--target", "lead", "--channel", "Paid Search"],
        ),
    ],
)
def test_dashboard_csv_is_the_cli_csv(browser, config, name, query, args):
    """Byte for byte, the dashboard's CSV of a table is the CLI's for the same range."""
    response = browser.get(f"/dashboard/export/{name}.csv?{NOV}&{query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="closedloop-{name}-2026-11-01-2026-11-30.csv"'
    extra = ["--model", "first_click"] if "first_click" in query else []
    expected = cli_csv(config, *args, *extra, "--from", "2026-11-01", "--to", "2026-11-30")
    assert response.get_data(as_text=True) == expected


def test_drilled_csv_holds_the_level(browser):
    """Paid Search > google / cpc by campaign: Brand 1000.00/100.00, Generic, Total 1500.00."""
    query = f"{NOV}&by=campaign&channel=Paid+Search&source_medium=google+%2F+cpc"
    text = browser.get(f"/dashboard/export/sources.csv?{query}").get_data(as_text=True)
    rows = {r["campaign"]: r for r in csv.DictReader(io.StringIO(text))}
    assert set(rows) == {"Brand", "Generic", "Total"}
    assert (rows["Brand"]["revenue"], rows["Brand"]["spend"]) == ("1000.00", "100.00")
    assert (rows["Total"]["revenue"], rows["Total"]["roi"]) == ("1500.00", "9.0000")


def test_export_needs_login_and_a_known_table(report_app, browser):
    """Anonymous: 401 JSON; an unknown table: 404 JSON naming the field."""
    anonymous = report_app.test_client().get("/dashboard/export/sources.csv")
    assert anonymous.status_code == 401 and anonymous.json["error"] == "unauthorized"
    unknown = browser.get("/dashboard/export/secrets.csv")
    assert unknown.status_code == 404 and unknown.json["detail"].startswith("name: no table")


def test_page_links_to_its_csv_with_the_same_view(browser):
    """The Sources CSV link carries the page's range, level and drill filter."""
    page = browser.get(f"/dashboard/?{NOV}&by=source_medium&channel=Paid+Search").get_data(
        as_text=True
    )
    link = re.search(r'id="csv-sources" href="([^"]+)"', page).group(1)
    assert link.startswith("/dashboard/export/sources.csv?from=2026-11-01&amp;to=2026-11-30")
    assert "by=source_medium" in link and "channel=Paid+Search" in link


def test_api_drills_down_like_the_dashboard(browser):
    """/api/reports/sources?channel=Paid Search&by=campaign: Brand 1000/100, Generic 500/50."""
    query = f"{NOV}&by=campaign&channel=Paid+Search"
    data = browser.get(f"/api/reports/sources?{query}").json
    rows = {r["group"]: (r["revenue"], r["spend"]) for r in data["rows"]}
    assert rows == {"Brand": (1000, 100), "Generic": (500, 50)}
    assert data["where"] == {"channel": "Paid Search"} and data["totals"]["revenue"] == 1500
    text = browser.get(f"/dashboard/export/sources.csv?{query}").get_data(as_text=True)
    csv_rows = {r["campaign"]: r["revenue"] for r in csv.DictReader(io.StringIO(text))}
    assert csv_rows == {"Brand": "1000.00", "Generic": "500.00", "Total": "1500.00"}
    refused = browser.get(f"/api/reports/sources?{NOV}&by=campaign&campaign=Brand")
    assert refused.status_code == 400
    assert refused.json["detail"].startswith("campaign: cannot filter on the dimension")
