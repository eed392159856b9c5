"""``/dashboard``: login, CSRF, escaping of visitor-supplied names, sync and retry buttons."""

from __future__ import annotations

import html
import json
import re
from datetime import date

import pytest
from reports_conftest import DASHBOARD_TOKEN, EVIL, PASSWORD, USERNAME, seed_small_world
from sqlalchemy import func, select

from connector.storage.models import Conversion, Deal, SyncRun

NOV = "?from=2026-11-01&to=2026-11-30"


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return match.group(1)


def log_in(client, username: str, password: str):
    form = client.get("/dashboard/").get_data(as_text=True)
    return client.post(
        "/dashboard/login",
        data={"csrf": csrf_of(form), "username": username, "password": password},
    )


@pytest.fixture
def world(report_app):
    """The one-deal world with a campaign named like an XSS payload."""
    seed_small_world(report_app.extensions["closedloop"].sessions, campaign=EVIL)
    return report_app


@pytest.fixture
def browser(world):
    """A logged-in test client."""
    client = world.test_client()
    assert log_in(client, USERNAME, PASSWORD).status_code == 302
    return client


def test_login_page_then_wrong_password_is_401(world):
    """Anonymous visitors get the login form; a wrong password is refused with 401."""
    client = world.test_client()
    page = client.get("/dashboard/")
    assert page.status_code == 200 and b'type="password"' in page.data
    wrong = log_in(client, USERNAME, "guess")
    assert wrong.status_code == 401 and b"Wrong username or password" in wrong.data
    assert b'id="sources"' not in client.get("/dashboard/").data


def test_username_and_password_hash_login(world):
    """The configured user with the password matching dashboard.password_hash gets in."""
    client = world.test_client()
    response = log_in(client, USERNAME, PASSWORD)
    assert response.status_code == 302 and response.location.endswith("/dashboard/")
    page = client.get(f"/dashboard/{NOV}").get_data(as_text=True)
    assert 'id="sources"' in page and "Paid Search" in page
    assert '<td data-v="" title="(revenue - spend) ÷ spend">—</td>' in page  # Direct's ROI


def test_token_login_and_wrong_user(world):
    """dashboard.token works as the password; the right password for another user does not."""
    client = world.test_client()
    assert log_in(client, "", DASHBOARD_TOKEN).status_code == 302
    assert b'id="sources"' in client.get("/dashboard/").data
    assert log_in(world.test_client(), "mallory", PASSWORD).status_code == 401


def test_login_needs_the_csrf_token(world):
    """A login post without the form's CSRF token is refused."""
    client = world.test_client()
    client.get("/dashboard/")
    response = client.post("/dashboard/login", data={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 400
    assert b'id="sources"' not in client.get("/dashboard/").data


def test_logout_ends_the_session(browser):
    """Logging out (with CSRF) sends the user back to the login form; API access ends too."""
    page = browser.get("/dashboard/").get_data(as_text=True)
    assert browser.get("/api/reports/sources").status_code == 200  # the session reads the API
    assert browser.post("/dashboard/logout", data={"csrf": csrf_of(page)}).status_code == 302
    assert b'type="password"' in browser.get("/dashboard/").data
    assert browser.get("/api/reports/sources").status_code == 401


def test_posts_need_login_and_csrf(world, browser):
    """Sync and retry refuse anonymous users (401) and posts without the CSRF token (400)."""
    anonymous = world.test_client()
    assert anonymous.post("/dashboard/trigger").status_code == 401
    assert anonymous.post("/dashboard/retry").status_code == 401
    assert browser.post("/dashboard/trigger", data={"csrf": "forged"}).status_code == 400
    assert browser.post("/dashboard/retry").status_code == 400
    with world.extensions["closedloop"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 0
        assert s.scalar(select(func.count()).where(Conversion.status == "dead")) == 1


def test_visitor_supplied_names_are_escaped(browser):
    """A campaign named <script>alert(1)</script> is escaped in HTML and inert in chart JSON."""
    page = browser.get(f"/dashboard/{NOV}&by=campaign").get_data(as_text=True)
    assert EVIL not in page
    assert html.escape(EVIL) in page or "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    blob = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', page, re.S)
    assert blob, "chart data missing"
    assert "<" not in blob.group(1)  # cannot close the script element early
    charts = json.loads(blob.group(1))
    assert EVIL in [row["group"] for row in charts["by_group"]]


def test_sync_now_starts_a_run(world, browser):
    """The 'Sync now' button starts a run that shows up as a sync_runs row."""
    page = browser.get("/dashboard/").get_data(as_text=True)
    response = browser.post("/dashboard/trigger", data={"csrf": csrf_of(page)})
    assert response.status_code == 302 and response.location.endswith("/dashboard/")
    assert "Sync started (run " in browser.get("/dashboard/").get_data(as_text=True)
    world.extensions["closedloop.runs"].wait_idle(30)
    with world.extensions["closedloop"].sessions() as s:
        runs = s.execute(select(SyncRun.trigger, SyncRun.status)).all()
    assert len(runs) == 1 and runs[0][0] == "dashboard"
    assert runs[0][1] not in ("queued", "running")
    assert b"<td>dashboard</td>" in browser.get("/dashboard/").data


def test_retry_dead_letters_requeues(world, browser):
    """'Retry dead letters' turns dead conversions back into due pending ones."""
    page = browser.get(f"/dashboard/{NOV}").get_data(as_text=True)
    assert "Retry dead letters (1)" in page
    response = browser.post("/dashboard/retry", data={"csrf": csrf_of(page)})
    assert response.status_code == 302 and response.location.endswith("/dashboard/")
    assert "1 dead letters re-queued." in browser.get("/dashboard/").get_data(as_text=True)
    with world.extensions["closedloop"].sessions() as s:
        rows = s.execute(select(Conversion.destination, Conversion.status, Conversion.attempts))
        assert sorted(rows) == [("google_ads", "accepted", 1), ("meta", "pending", 0)]


def test_opportunities_by_first_or_last_touch(world, browser):
    """touch=last splits the opportunity table by the deals' last-touch channel instead."""
    with world.extensions["closedloop"].sessions.begin() as s:
        s.get(Deal, "D1").last_touch_channel = "Email"

    def groups(query: str) -> list[str]:
        page = browser.get(f"/dashboard/{NOV}{query}").get_data(as_text=True)
        table = re.search(r'<table id="opportunities".*?</table>', page, re.S)
        assert table, "opportunity table missing"
        return re.findall(r"<tr><td>([^<]*)</td>", table.group(0))

    assert groups("") == ["Paid Search"]
    assert groups("&touch=last") == ["Email"]


def test_url_text_is_never_a_notice(browser):
    """?message= from a link is not shown: notices come from the server's flash messages only."""
    spoof = "Your account is suspended: call +1 555 0100"
    page = browser.get("/dashboard/", query_string={"message": spoof}).get_data(as_text=True)
    assert spoof not in page and 'class="notice"' not in page


def test_a_notice_is_shown_once(world, browser):
    """A button's notice appears on the next page only, not on every later load."""
    page = browser.get("/dashboard/").get_data(as_text=True)
    browser.post("/dashboard/retry", data={"csrf": csrf_of(page)})
    assert "dead letters re-queued." in browser.get("/dashboard/").get_data(as_text=True)
    assert "dead letters re-queued." not in browser.get("/dashboard/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("?from=0001-01-01&to=9999-12-30", "to: a range may span at most 3660 days"),
        ("?from=2026-11-01&to=9999-12-31", "to: must be 9999-12-30 or earlier"),
        ("?from=2026-11-30&to=2026-11-01", "to: must not be before from"),
        ("?from=yesterday", "from: 'yesterday' is not a date"),
    ],
)
def test_out_of_bounds_range_shows_the_default_with_a_notice(browser, query, named):
    """A huge, reversed or bad range renders the last 30 days and says why, visibly."""
    response = browser.get(f"/dashboard/{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    notice = re.search(r'<p class="error" role="alert" id="range-notice">([^<]*)</p>', page)
    assert notice and html.unescape(notice.group(1)).startswith(named)
    assert len(page) < 200_000  # 30 days, not 3.6 million
    dates = re.findall(r'<input type="date" name="(?:from|to)" value="([^"]+)">', page)
    start, end = (date.fromisoformat(d) for d in dates)
    assert (end - start).days == 29


def test_a_ten_year_range_renders(browser):
    """The longest allowed range (3,660 days) renders without a notice."""
    page = browser.get("/dashboard/?from=2016-12-06&to=2026-12-01").get_data(as_text=True)
    assert 'id="range-notice"' not in page and 'id="sources"' in page
