"""Posted and imported sales go out at once: one coalesced run, without calling sync."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.app import create_app
from connector.cli import cli
from connector.errors import LeaseHeld
from connector.revenue.kick import EXTENSION, SyncKicker
from connector.runtime import Runtime
from connector.storage.models import SyncRun
from tests.revenue.conftest import TOKEN, journey, sale


class FakeTimers:
    """Timers that fire only when the test says so (no sleeping, no threads)."""

    def __init__(self) -> None:
        self.armed: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, seconds: float, fire: Callable[[], None]) -> Any:
        timers = self

        class _Timer:
            def start(self) -> None:
                timers.armed.append((seconds, fire))

            def cancel(self) -> None:
                timers.armed = [t for t in timers.armed if t[1] is not fire]

        return _Timer()

    def fire(self) -> float:
        """Fire the oldest armed timer; its delay."""
        seconds, fire = self.armed.pop(0)
        fire()
        return seconds


def test_a_thousand_kicks_start_one_run():
    """1,000 sales before the timer fires: one timer, one run, with no CRM deal IDs."""
    calls: list[tuple[str, dict[str, Any]]] = []
    timers = FakeTimers()
    kicker = SyncKicker(lambda t, **kw: calls.append((t, kw)) or 1, 2.0, timer=timers)
    for _ in range(1000):
        kicker.kick()
    assert [s for s, _ in timers.armed] == [2.0]
    timers.fire()
    assert calls == [("revenue", {"deal_ids": []})]
    assert timers.armed == []


def test_a_held_lease_is_tried_again_until_a_run_starts():
    """A run in progress: the kick waits RETRY seconds and tries again; then one run starts."""
    answers: list[Any] = [LeaseHeld("other"), LeaseHeld("other"), 7]

    def start(trigger: str, **options: Any) -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    timers = FakeTimers()
    kicker = SyncKicker(start, 2.0, retry=5.0, timer=timers)
    kicker.kick()
    assert [timers.fire(), timers.fire(), timers.fire()] == [2.0, 5.0, 5.0]
    assert kicker.started == [7] and timers.armed == []


def test_a_sale_during_a_run_gets_a_run_of_its_own():
    """The running run may have read the sales already: a kick after it starts one more."""
    timers = FakeTimers()
    kicker = SyncKicker(lambda t, **kw: 1, 2.0, timer=timers)
    kicker.kick()
    timers.fire()
    kicker.kick()
    kicker.kick()
    assert len(timers.armed) == 1
    timers.fire()
    assert kicker.started == [1, 1]


@pytest.fixture
def kicked_runtime(make_settings, revenue_config) -> Iterator[Runtime]:
    """The sandboxes' config with the immediate sync on (a short delay)."""
    config = {**revenue_config, "revenue": {**revenue_config["revenue"]}}
    config["revenue"]["sync_after_seconds"] = 0.2
    rt = Runtime.from_settings(make_settings(config))
    yield rt
    rt.close()


@pytest.fixture
def kicked_app(kicked_runtime) -> Iterator[Any]:
    """The app over that runtime; its pending kick and runs end with the test."""
    app = create_app(runtime=kicked_runtime)
    app.config["TESTING"] = True
    app.extensions[EXTENSION].retry = 0.2
    yield app
    app.extensions[EXTENSION].cancel()
    app.extensions["closedloop.runs"].wait_idle(60)


def _wait_for(condition: Callable[[], bool], seconds: float = 60) -> None:
    """Poll ``condition`` (the run is on another thread) until true or the deadline."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _runs(runtime: Runtime, trigger: str) -> int:
    with runtime.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(SyncRun).where(SyncRun.trigger == trigger)
        )


def test_a_posted_sale_is_accepted_at_google_without_a_sync_call(
    kicked_app, kicked_runtime, sandboxes
):
    """POST /revenue alone: the sandbox Google Ads accepts the conversion soon after."""
    journey(kicked_runtime, "ann@example.com")
    client = kicked_app.test_client()
    assert client.post("/revenue", json=sale("K1", "42"), headers=TOKEN).status_code == 202
    google = sandboxes["google_ads"]
    _wait_for(lambda: len(google.accepted) == 1)
    assert google.accepted[0]["transaction_id"] == "cl-revenue_webhook_K1-closed_won"
    assert google.accepted[0]["value"] == 42.0
    kicked_app.extensions["closedloop.runs"].wait_idle(60)
    assert _runs(kicked_runtime, "revenue") == 1


def test_many_posts_share_few_runs_and_each_sale_is_sent_once(
    kicked_app, kicked_runtime, sandboxes
):
    """60 posts one after another: every sale accepted once, by far fewer runs than posts."""
    client = kicked_app.test_client()
    for n in range(60):
        body = sale(f"M{n}", "10", email=f"buyer{n}@example.com")
        assert client.post("/revenue", json=body, headers=TOKEN).status_code == 202
    google = sandboxes["google_ads"]
    _wait_for(lambda: len(google.accepted) >= 60)
    kicked_app.extensions["closedloop.runs"].wait_idle(60)
    _wait_for(lambda: kicked_app.extensions[EXTENSION]._timer is None)
    kicked_app.extensions["closedloop.runs"].wait_idle(60)
    keys = [g["transaction_id"] for g in google.accepted]
    assert sorted(keys) == sorted(f"cl-revenue_webhook_M{n}-closed_won" for n in range(60))
    assert 1 <= _runs(kicked_runtime, "revenue") <= 10


def test_a_repeat_post_starts_no_run(kicked_app, kicked_runtime):
    """A body that changes nothing (all unchanged) kicks nothing."""
    client = kicked_app.test_client()
    body = sale("R1", "10")
    client.post("/revenue", json=body, headers=TOKEN)
    _wait_for(lambda: _runs(kicked_runtime, "revenue") == 1)
    kicked_app.extensions["closedloop.runs"].wait_idle(60)
    assert client.post("/revenue", json=body, headers=TOKEN).get_json()["unchanged"] == 1
    assert kicked_app.extensions[EXTENSION]._timer is None


def test_the_cli_import_syncs_at_once(tmp_path, db_url, revenue_config, kicked_runtime, sandboxes):
    """``closedloop import revenue`` sends what it stored before it exits (unless --no-sync)."""
    config = {**revenue_config, "database": {"url": db_url}}
    config["revenue"] = {**revenue_config["revenue"], "sync_after_seconds": 2}
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(config))
    csv = tmp_path / "sales.csv"
    at = sale()["time"]
    csv.write_text(f"order_id,value,currency,time,email\nC1,5,EUR,{at},ann@example.com\n")
    result = CliRunner().invoke(cli, ["-c", str(path), "import", "revenue", str(csv)])
    assert result.exit_code == 0, result.output
    assert "run 1 succeeded" in result.output
    assert [g["transaction_id"] for g in sandboxes["google_ads"].accepted] == [
        "cl-revenue_import_C1-closed_won"
    ]
    csv.write_text(f"order_id,value,currency,time,email\nC2,5,EUR,{at},ann@example.com\n")
    args = ["-c", str(path), "import", "revenue", str(csv), "--no-sync"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    assert len(sandboxes["google_ads"].accepted) == 1
