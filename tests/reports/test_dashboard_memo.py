"""One dashboard view runs each report at most once (the per-request memo)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import date

import pytest
from reports_conftest import PASSWORD, USERNAME, seed_small_world

from connector.dashboard import lifecycle, memo, panels
from connector.dashboard.view import read_view

NOV = "?from=2026-11-01&to=2026-11-30"
TODAY = date(2026, 12, 3)


def log_in(client):
    """Log in through the form, as a person does."""
    page = client.get("/dashboard/").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf, "username": USERNAME, "password": PASSWORD}
    return client.post("/dashboard/login", data=form)


BUILDERS = [
    (panels, "sources"),
    (panels, "opportunities"),
    (panels, "delivery"),
    (panels, "models"),
    (panels, "timeline"),
    (lifecycle, "paths"),
    (lifecycle, "funnel"),
    (lifecycle, "velocity"),
]


@pytest.fixture
def counted(report_app, monkeypatch):
    """A logged-in client and a counter of each report builder's calls."""
    seed_small_world(report_app.extensions["closedloop"].sessions)
    calls: Counter[str] = Counter()
    for module, name in BUILDERS:
        real = getattr(module, name)

        def wrapper(db, view, _real=real, _name=name):
            calls[_name] += 1
            return _real(db, view)

        wrapper.__module__, wrapper.__qualname__ = real.__module__, real.__qualname__
        monkeypatch.setattr(module, name, wrapper)
    client = report_app.test_client()
    assert log_in(client).status_code == 302
    return client, calls


def test_full_view_runs_each_report_exactly_once(counted):
    """Every panel's report runs once for one page load, compared or not."""
    client, calls = counted
    for query in (NOV, NOV + "&compare=previous"):
        calls.clear()
        assert client.get("/dashboard/" + query).status_code == 200
        assert calls == Counter({name: 1 for _, name in BUILDERS})


def test_memo_reuses_within_a_request_only(report_app):
    """Asking twice in one request computes once; a new request computes again."""
    from datetime import date

    view = read_view(
        {"from": "2026-11-01", "to": "2026-11-30"}, date(2026, 12, 3), model="last_click"
    )
    runs: list[int] = []

    def build(db, v):
        runs.append(1)
        return {"n": len(runs)}

    with report_app.test_request_context("/dashboard/"):
        assert memo.once(build, None, view) == {"n": 1}
        assert memo.once(build, None, view) == {"n": 1}
        other = read_view(
            {"from": "2026-11-02", "to": "2026-11-30"}, date(2026, 12, 3), model="last_click"
        )
        assert memo.once(build, None, other) == {"n": 2}
    with report_app.test_request_context("/dashboard/"):
        assert memo.once(build, None, view) == {"n": 3}


def test_panels_are_computed_side_by_side(counted, monkeypatch):
    """Two panels' reports run at the same time (each waits for the other at a barrier)."""
    client, _ = counted
    barrier = threading.Barrier(2, timeout=20)
    threads: dict[str, str] = {}
    for module, name in BUILDERS:
        real = getattr(module, name)

        def wrapper(db, view, _real=real, _name=name):
            threads[_name] = threading.current_thread().name
            if _name in ("funnel", "velocity"):
                barrier.wait()  # breaks (and the page fails) unless the other runs meanwhile
            return _real(db, view)

        wrapper.__module__, wrapper.__qualname__ = real.__module__, real.__qualname__
        monkeypatch.setattr(module, name, wrapper)
    assert client.get("/dashboard/" + NOV).status_code == 200
    assert set(threads) == {name for _, name in BUILDERS}
    assert all(t.startswith("closedloop-panel") for t in threads.values()), threads


def test_one_panel_worker_computes_in_turn_with_the_same_page(
    make_settings, make_app, dashboard_config
):
    """``dashboard.panel_workers: 1``: the request's own thread, and the very same page."""
    side_by_side = make_app(make_settings(dashboard_config))
    in_turn = make_app(
        make_settings(
            {**dashboard_config, "dashboard": {**dashboard_config["dashboard"], "panel_workers": 1}}
        )
    )
    seed_small_world(side_by_side.extensions["closedloop"].sessions)
    pages = []
    for app in (side_by_side, in_turn):
        client = app.test_client()
        assert log_in(client).status_code == 302
        page = client.get("/dashboard/" + NOV + "&compare=previous").get_data(as_text=True)
        pages.append(re.sub(r'name="csrf" value="[^"]+"', "", page))
    assert pages[0] == pages[1]
    assert "Paid Search" in pages[0]
    with in_turn.test_request_context("/dashboard/"):
        ran_on: list[str] = []
        view = read_view({"from": "2026-11-01", "to": "2026-11-30"}, TODAY, model="last_click")

        def build(db, v):
            ran_on.append(threading.current_thread().name)
            return {}

        def other(db, v):
            ran_on.append(threading.current_thread().name)
            return {}

        memo.prefetch([build, other], view)
        assert ran_on == []  # left to ``once``, in the page's session and thread
