"""Dashboard lifecycle panels: funnel (period/cohort), time in stage, drilled like the sources."""

from __future__ import annotations

import csv
import io
import re

import pytest
from reports_conftest import PASSWORD, USERNAME, seed_drill_world

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


def _funnel(client, query: str) -> dict[str, dict[str, str]]:
    text = client.get(f"/dashboard/export/funnel.csv?{NOV}&{query}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    key = next(iter(rows[0])) if rows else "group"
    return {row[key]: row for row in rows}


def test_funnel_panel_counts_by_hand(browser):
    """Paid Search: 2 visitors, 2 leads, 2 opportunities, 2 customers, 150 spend, 75 per lead."""
    page = browser.get(f"/dashboard/?{NOV}").get_data(as_text=True)
    assert 'id="funnel"' in page and 'id="csv-funnel"' in page
    rows = _funnel(browser, "by=channel")
    paid = rows["Paid Search"]
    assert [paid[k] for k in ("visitors", "leads", "opportunities", "customers")] == list("2222")
    assert (paid["spend"], paid["cost_per_lead"], paid["cac"]) == ("150.00", "75.00", "75.00")
    assert rows["Paid Social"]["leads"] == "1" and rows["Paid Social"]["customers"] == "0"
    assert rows["Total"]["visitors"] == "4"


def test_funnel_drills_and_has_no_total_when_drilled(browser):
    """Under Paid Search by campaign: Brand and Generic, one of each stage; no total row."""
    rows = _funnel(browser, "by=campaign&channel=Paid+Search")
    assert set(rows) == {"Brand", "Generic"}
    assert [rows["Brand"][k] for k in ("visitors", "leads", "customers")] == list("111")
    page = browser.get(f"/dashboard/?{NOV}&by=campaign&channel=Paid+Search").get_data(as_text=True)
    funnel = re.search(r'<table id="funnel".*?</table>', page, re.S).group(0)
    assert "<tfoot>" not in funnel and "No total row under a drill filter" in page


def test_cohort_mode_link_and_velocity_empty_state(browser):
    """The cohort link switches the mode; with no stage times, time in stage says why."""
    page = browser.get(f"/dashboard/?{NOV}").get_data(as_text=True)
    link = re.search(r'id="funnel-cohort" href="([^"]+)"', page).group(1)
    assert "funnel=cohort" in link
    cohort = browser.get("/dashboard/" + link.replace("&amp;", "&")).get_data(as_text=True)
    assert "<strong>cohort</strong>" in cohort
    october = browser.get("/dashboard/?from=2026-10-01&to=2026-10-31").get_data(as_text=True)
    assert 'id="empty-velocity"' in october and "stage-entry times" in october
    assert 'id="empty-velocity"' not in page


def test_time_in_stage_by_hand(browser):
    """Paid Search's deals: created 3 Nov, won 10 Nov (7.00 days); leads 2 and 3 am 2 Nov."""
    text = browser.get(f"/dashboard/export/velocity.csv?{NOV}").get_data(as_text=True)
    paid = {r["channel"]: r for r in csv.DictReader(io.StringIO(text))}["Paid Search"]
    cycle = [paid[f"sales_cycle_{k}"] for k in ("count", "median_days", "p75_days")]
    assert cycle == ["2", "7.00", "7.00"]
    # lead to won: 7 d 22 h = 7.9167 and 7 d 21 h = 7.875 days; median 7.8958, p75 7.9063
    won = [paid[f"lead_to_won_{k}"] for k in ("count", "median_days", "p75_days")]
    assert won == ["2", "7.90", "7.91"]
