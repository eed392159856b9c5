"""Tracking outcomes and write-back failures are counted in the database, for every process."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from connector.app import create_app
from connector.metrics import exposition
from connector.runtime import Runtime
from connector.tracking.routes import WORKER
from connector.tracking.worker import writeback_job
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.sandbox_kit import Fault, FaultPlan


def _samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric in the exposition text."""
    return {
        labels: float(value)
        for labels, value in re.findall(rf"^{name}\{{([^}}]*)\}} (\S+)$", text, re.M)
    }


def test_stored_rejected_and_rate_limited_hits_are_counted(make_client, make_settings, page_view):
    """2 stored, 1 bad JSON, 1 bad field, 2 over the limit: a second process's scrape sees it."""
    client, runtime = make_client({"server": {"rate_limit_per_minute": 4}})
    assert client.post("/collect", json=page_view()).status_code == 204
    assert client.post("/collect", json=page_view(title="Pricing")).status_code == 204
    bad_json = client.post("/collect", data="{nope", content_type="text/plain")
    assert bad_json.status_code == 400
    bad_field = client.post("/collect", json=page_view(url="not a url"))
    assert bad_field.status_code == 400
    assert [client.post("/collect", json=page_view()).status_code for _ in range(2)] == [429, 429]
    assert client.options("/collect").status_code in (200, 204)  # a preflight is not a hit
    runtime.close()  # this process stops: what it counted is in the database
    other = Runtime.from_settings(make_settings())  # another worker answers the scrape
    try:
        text = exposition(other).decode()
    finally:
        other.close()
    assert _samples(text, "closedloop_tracking_stored_total") == {'endpoint="collect"': 2.0}
    assert _samples(text, "closedloop_tracking_rejected_total") == {
        'endpoint="collect",reason="invalid_json"': 1.0,
        'endpoint="collect",reason="invalid_request"': 1.0,
    }
    assert _samples(text, "closedloop_tracking_rate_limited_total") == {'endpoint="collect"': 2.0}


def test_counts_from_two_processes_add_up(make_settings, page_view):
    """Two runtimes on one database (two workers) add to the same totals."""
    first = Runtime.from_settings(make_settings())
    second = Runtime.from_settings(make_settings())
    try:
        for rt in (first, second, first):
            app = create_app(runtime=rt)
            assert app.test_client().post("/collect", json=page_view()).status_code == 204
        first.counters.flush()
        second.counters.flush()
        text = exposition(first).decode()
    finally:
        first.close()
        second.close()
    assert _samples(text, "closedloop_tracking_stored_total") == {'endpoint="collect"': 3.0}


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    """A HubSpot sandbox for the write-back."""
    with HubSpotSandbox() as sandbox:
        yield sandbox


def test_writeback_failures_are_counted(make_client, hubspot):
    """HubSpot answering 503: every failed write-back attempt is counted as a retry."""
    client, runtime = make_client({"platforms": {"hubspot": hubspot.platform_config()}})
    client.application.extensions[WORKER].autostart = False
    for n in range(3):
        visitor = f"visitor-{n:08d}"
        client.post("/collect", json={"visitor_id": visitor, "url": f"https://shop.example/{n}"})
        client.post("/identify", json={"visitor_id": visitor, "email": f"lead{n}@example.com"})
    hubspot.faults = FaultPlan(rates={Fault.UNAVAILABLE: 1.0})
    done = writeback_job(runtime)
    assert done["retry"] >= 3 and done["written"] == 0  # each lead at least once
    text = exposition(runtime).decode()
    assert _samples(text, "closedloop_crm_writeback_failures_total") == {
        'outcome="retry"': float(done["retry"])
    }
    assert _samples(text, "closedloop_tracking_stored_total") == {
        'endpoint="collect"': 3.0,
        'endpoint="identify"': 3.0,
    }
