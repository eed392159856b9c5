"""The delivery engine against the tiny platform: a real HTTP server, a real adapter."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from connector.outbox import DeliverStep, deliver_due
from connector.runs import PARTIAL, SUCCEEDED, RunService, get_run
from connector.storage.models import PlatformStatus
from platforms.sandbox_kit import Fault, FaultPlan


def _status(runtime, platform="tiny"):
    with runtime.sessions() as session:
        return session.get(PlatformStatus, platform)


def test_every_conversion_accepted_once_in_the_fewest_requests(
    runtime, add_rows, rows, emulator, make_destination, now
):
    """Ten rows over two clients go out in four requests (3+2 per client) and are accepted."""
    keys = add_rows(10, clients=2)
    summary = deliver_due(runtime, now=now, adapters={"tiny": make_destination(emulator)})
    assert emulator.requests == 4
    assert sorted(e["key"] for e in emulator.accepted) == sorted(keys)
    stored = rows()
    for key in keys:
        row = stored[key]
        assert (row.status, row.attempts, row.platform_ref) == ("accepted", 1, f"ref-{key}")
        assert row.delivered_at == now and row.claimed_by is None and row.claimed_until is None
    tiny = summary.platforms["tiny"].as_dict()
    assert tiny["accepted"] == 10 and tiny["requests"] == 4 and tiny["error"] is None
    status = _status(runtime)
    assert status.last_success_at == now and status.last_error is None


def test_partial_failure_rejects_only_the_bad_items(
    runtime, add_rows, rows, emulator, make_destination, now
):
    """One bad item in a request is rejected with the platform's code; its neighbours pass."""
    add_rows(3, clients=1)
    add_rows(1, prefix="bad", clients=1, value=Decimal("-5"))
    summary = deliver_due(runtime, now=now, adapters={"tiny": make_destination(emulator)})
    stored = rows()
    assert stored["bad0"].status == "rejected"
    assert stored["bad0"].reason_code == "INVALID_VALUE"
    assert stored["bad0"].reason == "value must not be negative"
    assert [stored[f"k{i}"].status for i in range(3)] == ["accepted"] * 3
    assert summary.platforms["tiny"].as_dict()["reasons"] == {"rejected": {"INVALID_VALUE": 1}}
    # A rejection is final: a later pass sends nothing.
    before = emulator.requests
    deliver_due(runtime, now=now + timedelta(days=2), adapters={"tiny": make_destination(emulator)})
    assert emulator.requests == before and rows()["bad0"].status == "rejected"


def test_skip_is_final_and_wait_is_not_an_attempt(
    runtime, add_rows, rows, emulator, make_destination, now
):
    """Skip marks the row skipped with the reason; Wait keeps it pending until the given time."""
    add_rows(1, prefix="noclient", identifiers={})
    click = now - timedelta(hours=1)
    add_rows(1, prefix="young", identifiers={"ga_client_id": "c9", "click_time": click.isoformat()})
    summary = deliver_due(runtime, now=now, adapters={"tiny": make_destination(emulator)})
    stored = rows()
    assert (stored["noclient0"].status, stored["noclient0"].reason_code) == (
        "skipped",
        "MISSING_CLIENT_ID",
    )
    young = stored["young0"]
    assert (young.status, young.attempts) == ("pending", 0)
    assert young.next_attempt_at == click + timedelta(hours=6)
    assert emulator.requests == 0
    assert summary.platforms["tiny"].counts == {"skipped": 1, "waiting": 1}
    deliver_due(
        runtime, now=now + timedelta(hours=5), adapters={"tiny": make_destination(emulator)}
    )
    assert emulator.requests == 1 and rows()["young0"].status == "accepted"
    assert rows()["noclient0"].status == "skipped"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.RATE_LIMIT, "RATE_LIMITED"),
        (Fault.SERVER_ERROR, "HTTP_500"),
        (Fault.UNAVAILABLE, "HTTP_503"),
        (Fault.DROP, "UNKNOWN_OUTCOME"),
        (Fault.TIMEOUT, "UNKNOWN_OUTCOME"),
        (Fault.LOST_RESPONSE, "UNKNOWN_OUTCOME"),
    ],
)
def test_fault_to_outcome_table(
    runtime, add_rows, rows, make_destination, tiny_platform, now, fault, code
):
    """Each fault makes the row retry later with its code; the next pass delivers it once."""
    plan = FaultPlan(script={1: fault}, retry_after_seconds=120, timeout_seconds=1.0)
    with tiny_platform.TinyEmulator(plan) as server:
        add_rows(2, clients=1)
        deliver_due(runtime, now=now, adapters={"tiny": make_destination(server, timeout=0.3)})
        first = rows()
        for row in first.values():
            assert (row.status, row.attempts, row.reason_code) == ("pending", 1, code)
            assert row.claimed_by is None
            assert row.next_attempt_at > now
            if fault is Fault.RATE_LIMIT:
                assert row.next_attempt_at >= now + timedelta(seconds=120)
        deliver_due(
            runtime, now=now + timedelta(days=1), adapters={"tiny": make_destination(server)}
        )
        assert [r.status for r in rows().values()] == ["accepted", "accepted"]
        assert sorted(e["key"] for e in server.accepted) == ["k0", "k1"]


def test_retries_end_in_a_dead_letter_with_the_last_reason(
    make_runtime, add_rows, rows, make_destination, tiny_platform, now
):
    """After max_attempts failures the row is dead with the last reason, and no longer sent."""
    rt = make_runtime({"delivery": {"max_attempts": 2}})
    plan = FaultPlan(rates={Fault.UNAVAILABLE: 1.0})
    with tiny_platform.TinyEmulator(plan) as server:
        add_rows(1, rt=rt)
        adapters = {"tiny": make_destination(server)}
        deliver_due(rt, now=now, adapters=adapters)
        assert rows(rt)["k0"].status == "pending"
        summary = deliver_due(rt, now=now + timedelta(days=1), adapters=adapters)
        dead = rows(rt)["k0"]
        assert (dead.status, dead.attempts, dead.reason_code) == ("dead", 2, "HTTP_503")
        assert summary.platforms["tiny"].as_dict()["reasons"] == {"dead": {"HTTP_503": 1}}
        deliver_due(rt, now=now + timedelta(days=30), adapters=adapters)
        assert server.requests == 2


def test_whole_request_permanent_error_pauses_with_one_error(
    runtime, add_rows, rows, emulator, make_destination, tiny_platform, now
):
    """A revoked token leaves every row pending, stops after one request, fails the run once."""
    add_rows(9)
    bad = make_destination(emulator, token="revoked")
    run_id, status = RunService(runtime, steps=[DeliverStep(adapters={"tiny": bad})]).run_now("cli")
    assert status == PARTIAL
    assert emulator.requests == 1
    for row in rows().values():
        assert (row.status, row.attempts, row.claimed_by) == ("pending", 0, None)
        assert row.reason_code is None
    run = get_run(runtime, run_id)
    assert run.summary["tiny"]["error"] == "NOT_ALLOWLISTED: account not allowlisted"
    platform = _status(runtime)
    assert platform.last_error == "NOT_ALLOWLISTED: account not allowlisted"
    assert platform.last_run_id == run_id and platform.last_success_at is None


def test_run_stores_the_summary_and_counts(runtime, add_rows, emulator, make_destination):
    """A sync run records per-platform figures and counts, and succeeds when all went out."""
    add_rows(4)
    add_rows(1, prefix="bad", value=Decimal("-1"))
    step = DeliverStep(adapters={"tiny": make_destination(emulator)})
    run_id, status = RunService(runtime, steps=[step]).run_now("cli")
    assert status == SUCCEEDED
    run = get_run(runtime, run_id)
    assert run.summary["tiny"]["accepted"] == 4
    assert run.summary["tiny"]["rejected"] == 1
    assert run.counts == {"tiny.accepted": 4, "tiny.rejected": 1}
    assert _status(runtime).last_run_id == run_id


def test_dry_run_changes_nothing(runtime, add_rows, emulator, make_destination, now):
    """A dry run validates every item, keeps every row as it was and records no status."""
    add_rows(5, clients=2)
    add_rows(1, prefix="noclient", identifiers={})

    def snapshot():
        with runtime.sessions() as session:
            from connector.storage.models import Conversion

            return [
                (r.id, r.status, r.attempts, r.next_attempt_at, r.claimed_by, r.updated_at)
                for r in session.scalars(select(Conversion).order_by(Conversion.id))
            ]

    before = snapshot()
    summary = deliver_due(
        runtime, now=now, dry_run=True, adapters={"tiny": make_destination(emulator, dry_run=True)}
    )
    assert snapshot() == before
    assert emulator.accepted == [] and emulator.validated == 5
    tiny = summary.platforms["tiny"].as_dict()
    assert (tiny["accepted"], tiny["skipped"], tiny["dry_run"]) == (5, 1, True)
    assert _status(runtime) is None


def test_injected_faults_still_deliver_exactly_once(
    runtime, add_rows, rows, make_destination, tiny_platform, now
):
    """With 20 % 429/5xx/timeouts/drops/lost answers every conversion lands exactly once."""
    plan = FaultPlan(
        rates={
            Fault.RATE_LIMIT: 0.05,
            Fault.SERVER_ERROR: 0.04,
            Fault.TIMEOUT: 0.03,
            Fault.DROP: 0.03,
            Fault.LOST_RESPONSE: 0.05,
        },
        seed=11,
        timeout_seconds=0.6,
    )
    with tiny_platform.TinyEmulator(plan) as server:
        keys = add_rows(90, clients=30)
        adapters = {"tiny": make_destination(server, timeout=0.3, concurrency=4)}
        clock = now
        for _ in range(20):
            deliver_due(runtime, now=clock, adapters=adapters)
            if all(r.status == "accepted" for r in rows().values()):
                break
            clock += timedelta(hours=7)
        assert all(r.status == "accepted" for r in rows().values())
        assert sorted(e["key"] for e in server.accepted) == sorted(keys)
        assert any(count > 1 for count in server.received.values())  # lost answers were resent
        assert server.requests > 30  # more than the minimum: faults forced resends
