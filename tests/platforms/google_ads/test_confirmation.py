"""Data Manager's asynchronous verdicts through the real outbox, sandbox and SDK.

Google's diagnostics guide (https://developers.google.com/data-manager/api/devguides/diagnostics):
an ingest only says "accepted for processing"; wait 30 minutes, then ask RetrieveRequestStatus
for each request_id (one id per look-up) with exponential backoff until SUCCESS,
PARTIAL_SUCCESS or FAILED. The schedule expected below is hand-computed from that and from the
rule the outbox documents: the first check 30 minutes after the ingest, then each wait as
long as the row has waited so far (at most 6 h), none later than 24 h after the ingest.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from connector.outbox.step import deliver_due
from connector.runtime import Runtime
from connector.storage.models import Conversion
from platforms.sandbox_kit.faults import Fault

from .conftest import NOW

MINUTE = timedelta(minutes=1)


class Clock:
    """One 'now' for the sandbox and for the delivery passes, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def sandbox_options(clock: Clock) -> dict[str, Any]:
    """Google as it is: statuses PROCESSING for 45 minutes, first look-up after 30."""
    return {"clock": clock, "processing_seconds": 45 * 60, "status_check_minutes": 30}


@pytest.fixture
def make_runtime(sandbox, make_settings):
    made: list[Runtime] = []

    def build() -> Runtime:
        settings = make_settings({"platforms": {"google_ads": sandbox.platform_config()}})
        made.append(Runtime.from_settings(settings))
        return made[-1]

    yield build
    for runtime in made:
        runtime.close()


def add_rows(runtime: Runtime, count: int, prefix: str = "deal") -> list[str]:
    """``count`` pending Google Ads conversions with a day-old gclid click, due now."""
    keys = [f"{prefix}-{i}" for i in range(count)]
    with runtime.sessions.begin() as session:
        for key in keys:
            session.add(
                Conversion(
                    deal_id=key,
                    destination="google_ads",
                    kind="conversion",
                    event_name="purchase",
                    dedup_key=key,
                    value=Decimal("250.00"),
                    currency="EUR",
                    event_time=NOW - timedelta(hours=1),
                    identifiers={
                        "gclid": f"gclid-{key}",
                        "click_time": (NOW - timedelta(days=1)).isoformat(),
                    },
                    next_attempt_at=NOW - MINUTE,
                )
            )
    return keys


def rows(runtime: Runtime) -> dict[str, Conversion]:
    with runtime.sessions() as session:
        return {r.dedup_key: r for r in session.scalars(select(Conversion))}


def deliver(runtime: Runtime, clock: Clock, at: datetime):
    clock.at = at
    return deliver_due(runtime, now=at).for_platform("google_ads")


def test_processing_then_success_is_accepted_with_one_look_up_per_request_id(
    sandbox, make_runtime, clock
):
    """2,001 rows: 2 ingests; PROCESSING at 30 min, SUCCESS at 60 min; 2 look-ups per check."""
    runtime = make_runtime()
    keys = add_rows(runtime, 2001)
    first = deliver(runtime, clock, NOW)
    assert first.counts == {"confirming": 2001}
    assert (first.requests, first.lookups) == (2, 0)
    assert sandbox.datamanager.calls == {"IngestEvents": 2}  # no status read at the ingest
    handed = rows(runtime)
    assert {r.status for r in handed.values()} == {"confirming"}
    assert {r.next_attempt_at for r in handed.values()} == {NOW + 30 * MINUTE}
    assert {r.delivered_at for r in handed.values()} == {NOW}
    request_ids = {r.platform_ref for r in handed.values()}
    assert request_ids == {a["request_id"] for a in sandbox.datamanager.accepted}
    assert len(request_ids) == 2

    deliver(runtime, clock, NOW + 10 * MINUTE)  # not due: nothing asked
    assert sandbox.datamanager.calls == {"IngestEvents": 2}

    still = deliver(runtime, clock, NOW + 30 * MINUTE)  # Google: PROCESSING (45 min)
    assert sandbox.datamanager.calls == {"IngestEvents": 2, "RetrieveRequestStatus": 2}
    assert still.lookups == 2 and not still.counts
    waiting = rows(runtime)
    assert {r.status for r in waiting.values()} == {"confirming"}
    assert {r.next_attempt_at for r in waiting.values()} == {NOW + 60 * MINUTE}

    done = deliver(runtime, clock, NOW + 60 * MINUTE)
    assert sandbox.datamanager.calls == {"IngestEvents": 2, "RetrieveRequestStatus": 4}
    assert done.counts == {"accepted": 2001} and done.lookups == 2
    final = rows(runtime)
    assert {r.status for r in final.values()} == {"accepted"}
    assert {r.delivered_at for r in final.values()} == {NOW}  # when Google got them
    assert {r.diagnostics["destinations"][0]["status"] for r in final.values()} == {"SUCCESS"}
    assert sorted(a["transaction_id"] for a in sandbox.accepted) == sorted(keys)


def test_processing_then_failed_is_rejected_with_googles_reason(sandbox, make_runtime, clock):
    """Every event of the request fails processing: rejected with the reason and its count."""
    runtime = make_runtime()
    keys = add_rows(runtime, 2)
    for key in keys:
        sandbox.fail_processing(key, "PROCESSING_ERROR_REASON_INVALID_GCLID")
    deliver(runtime, clock, NOW)
    assert {r.status for r in rows(runtime).values()} == {"confirming"}
    deliver(runtime, clock, NOW + 30 * MINUTE)  # still PROCESSING
    assert {r.status for r in rows(runtime).values()} == {"confirming"}
    summary = deliver(runtime, clock, NOW + 60 * MINUTE)
    assert summary.counts == {"rejected": 2}
    for row in rows(runtime).values():
        assert row.status == "rejected"
        assert row.reason_code == "PROCESSING_ERROR_REASON_INVALID_GCLID"
        assert "PROCESSING_ERROR_REASON_INVALID_GCLID x2" in row.reason
        assert row.platform_ref in row.reason
    assert sandbox.accepted == []


def test_partial_success_is_accepted_with_googles_failure_counts(sandbox, make_runtime, clock):
    """1 of 3 events fails: Google names no event, so all 3 are accepted with the warning."""
    runtime = make_runtime()
    keys = add_rows(runtime, 3)
    sandbox.fail_processing(keys[1], "PROCESSING_ERROR_REASON_EVENT_TOO_OLD")
    deliver(runtime, clock, NOW)
    summary = deliver(runtime, clock, NOW + 60 * MINUTE)  # past processing: PARTIAL_SUCCESS
    assert summary.counts == {"accepted": 3}
    assert summary.reasons == {"accepted": {"PARTIAL_SUCCESS": 3}}
    for row in rows(runtime).values():
        assert (row.status, row.reason_code) == ("accepted", "PARTIAL_SUCCESS")
        assert "1 of 3 events failed" in row.reason
        assert "PROCESSING_ERROR_REASON_EVENT_TOO_OLD x1" in row.reason
        assert row.diagnostics["destinations"][0]["status"] == "PARTIAL_SUCCESS"
    assert sorted(a["transaction_id"] for a in sandbox.accepted) == [keys[0], keys[2]]


@pytest.mark.parametrize("sandbox_options", [{"processing_seconds": 48 * 3600}])
def test_no_final_status_in_24_hours_is_a_dead_letter(sandbox, make_runtime, clock):
    """Still PROCESSING at every check: checks at 0.5, 1, 2, 4, 8, 14, 20, 24 h, then dead."""
    sandbox.datamanager.clock = clock
    sandbox.status_check_minutes = 30
    runtime = make_runtime()
    add_rows(runtime, 1)
    deliver(runtime, clock, NOW)
    checks = []
    for _ in range(20):
        (row,) = rows(runtime).values()
        if row.status != "confirming":
            break
        checks.append((row.next_attempt_at - NOW) / timedelta(hours=1))
        deliver(runtime, clock, row.next_attempt_at)
    assert checks == [0.5, 1, 2, 4, 8, 14, 20, 24]
    assert sandbox.datamanager.calls == {"IngestEvents": 1, "RetrieveRequestStatus": 8}
    (row,) = rows(runtime).values()
    assert (row.status, row.reason_code) == ("dead", "CONFIRMATION_TIMEOUT")
    assert row.platform_ref in row.reason and "24 h" in row.reason
    assert row.next_attempt_at is None and row.claimed_by is None


def test_a_confirming_row_survives_a_restart_and_is_never_sent_again(sandbox, make_runtime, clock):
    """A worker dies holding the look-up's claim; a new process asks again, never re-ingests."""
    runtime = make_runtime()
    add_rows(runtime, 3)
    deliver(runtime, clock, NOW)
    with runtime.sessions.begin() as session:  # a worker claimed them, then was killed
        session.execute(
            update(Conversion).values(claimed_by="killed-worker", claimed_until=NOW + 35 * MINUTE)
        )
    runtime.close()

    restarted = make_runtime()
    deliver(restarted, clock, NOW + 30 * MINUTE)  # the dead worker's claim still holds
    assert sandbox.datamanager.calls == {"IngestEvents": 1}
    assert {r.status for r in rows(restarted).values()} == {"confirming"}
    summary = deliver(restarted, clock, NOW + 60 * MINUTE)
    assert summary.counts == {"accepted": 3} and summary.requests == 0
    assert sandbox.datamanager.calls == {"IngestEvents": 1, "RetrieveRequestStatus": 1}
    assert len(sandbox.accepted) == 3
    assert all(r.claimed_by is None for r in rows(restarted).values())


@pytest.mark.parametrize("sandbox_options", [{"processing_seconds": 0}])
def test_an_immediate_first_check_settles_in_the_same_pass(sandbox, make_runtime, clock):
    """status_check_minutes 0 (the sandbox default): ingest and look-up in one pass."""
    sandbox.status_check_minutes = 0
    runtime = make_runtime()
    add_rows(runtime, 2)
    summary = deliver(runtime, clock, NOW)
    assert summary.counts == {"accepted": 2}  # counted once, not also as confirming
    assert (summary.requests, summary.lookups) == (1, 1)
    assert sandbox.datamanager.calls == {"IngestEvents": 1, "RetrieveRequestStatus": 1}


def test_a_failed_status_look_up_keeps_the_row_confirming_until_google_answers(
    sandbox, make_runtime, clock
):
    """RESOURCE_EXHAUSTED on RetrieveRequestStatus: still confirming, asked after the hint."""
    sandbox.faults.script = {2: Fault.RATE_LIMIT}  # call 1 the ingest, call 2 the look-up
    sandbox.faults.retry_after_seconds = 7200  # above the 60 min the backoff alone would wait
    runtime = make_runtime()
    add_rows(runtime, 1)
    deliver(runtime, clock, NOW)
    summary = deliver(runtime, clock, NOW + 60 * MINUTE)
    (row,) = rows(runtime).values()
    assert (row.status, row.reason_code) == ("confirming", "RESOURCE_EXHAUSTED")
    assert row.next_attempt_at == NOW + 60 * MINUTE + timedelta(hours=2)
    assert summary.request_failures == 1 and not summary.counts
    deliver(runtime, clock, row.next_attempt_at)
    (row,) = rows(runtime).values()
    assert (row.status, row.reason_code) == ("accepted", None)
    assert sandbox.datamanager.calls == {"IngestEvents": 1, "RetrieveRequestStatus": 2}


def test_a_request_id_google_does_not_know_stays_confirming(sandbox, make_runtime, clock):
    """INVALID_REQUEST_ID is no verdict on the events: keep asking until the deadline."""
    runtime = make_runtime()
    add_rows(runtime, 1)
    deliver(runtime, clock, NOW)
    with runtime.sessions.begin() as session:
        session.execute(update(Conversion).values(platform_ref="never-issued"))
    deliver(runtime, clock, NOW + 30 * MINUTE)
    (row,) = rows(runtime).values()
    assert (row.status, row.reason_code) == ("confirming", "INVALID_REQUEST_ID")
    assert row.next_attempt_at == NOW + 60 * MINUTE
