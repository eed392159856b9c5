"""Claims: concurrent workers never hold the same row; dead workers' claims expire."""

from __future__ import annotations

import threading
from datetime import timedelta

from connector.outbox.claim import claim_due
from connector.runtime import Runtime


def test_two_concurrent_claimers_get_disjoint_rows(settings, add_rows, now):
    """Two workers with their own connections claim at once; no row is claimed twice."""
    add_rows(400)
    workers = [Runtime.from_settings(settings, upgrade=False) for _ in range(2)]
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    barrier = threading.Barrier(2)

    def work(name: str, rt: Runtime) -> None:
        # Lockstep rounds: both claim at the same moment every round, so they really compete
        # (free-running, one thread can drain the queue before the other is scheduled).
        for _ in range(60):  # 400 rows at 2 x 7 a round take 29 rounds
            barrier.wait(30)
            rows = claim_due(rt.sessions, "tiny", worker=name, limit=7, now=now, claim_seconds=300)
            claimed[name].extend(row.id for row in rows)
            barrier.wait(30)
            if len(claimed["a"]) + len(claimed["b"]) >= 400:
                return

    threads = [
        threading.Thread(target=work, args=(name, rt), daemon=True)
        for name, rt in zip(claimed, workers, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for rt in workers:
        rt.close()
    a, b = set(claimed["a"]), set(claimed["b"])
    assert not a & b
    assert len(a | b) == 400 == len(claimed["a"]) + len(claimed["b"])
    assert a and b  # both really competed


def test_live_claims_are_skipped_and_expired_ones_retaken(runtime, add_rows, now):
    """A held row is invisible to others until its claim expires (a crashed worker)."""
    add_rows(3)
    first = claim_due(runtime.sessions, "tiny", worker="a", limit=10, now=now, claim_seconds=60)
    assert len(first) == 3 and all(r.claimed_by == "a" for r in first)
    later = now + timedelta(seconds=59)
    held = claim_due(runtime.sessions, "tiny", worker="b", limit=10, now=later, claim_seconds=60)
    assert held == []
    expired = now + timedelta(seconds=61)
    again = claim_due(runtime.sessions, "tiny", worker="b", limit=10, now=expired, claim_seconds=60)
    assert sorted(r.id for r in again) == sorted(r.id for r in first)


def test_only_due_pending_rows_of_the_destination_are_claimed(runtime, add_rows, now):
    """Future, finished and other destinations' rows are never claimed."""
    add_rows(1, prefix="due")
    add_rows(1, prefix="future", next_attempt_at=now + timedelta(minutes=5))
    add_rows(1, prefix="done", status="accepted")
    add_rows(1, prefix="dead", status="dead")
    add_rows(1, prefix="other", destination="meta")
    rows = claim_due(runtime.sessions, "tiny", worker="a", limit=10, now=now, claim_seconds=60)
    assert [r.dedup_key for r in rows] == ["due0"]


def test_an_outcome_from_a_worker_whose_claim_was_taken_over_is_ignored(runtime, add_rows, now):
    """A slow worker that lost its claim cannot overwrite the new owner's row."""
    from connector.outbox.backoff import RetryPolicy
    from connector.outbox.outcomes import ItemResult, record
    from connector.outbox.summary import PlatformSummary
    from connector.storage.models import Conversion
    from platforms.base import Accepted, Rejected

    add_rows(1)
    (row,) = claim_due(runtime.sessions, "tiny", worker="a", limit=1, now=now, claim_seconds=60)
    later = now + timedelta(seconds=61)
    claim_due(runtime.sessions, "tiny", worker="b", limit=1, now=later, claim_seconds=60)
    options = dict(policy=RetryPolicy(), now=later, summary=PlatformSummary("tiny"))
    record(runtime.sessions, [ItemResult(row.id, 0, Rejected("X", "x"))], worker="a", **options)
    with runtime.sessions() as session:
        assert session.get(Conversion, row.id).claimed_by == "b"
    record(runtime.sessions, [ItemResult(row.id, 0, Accepted("r1"))], worker="b", **options)
    with runtime.sessions() as session:
        stored = session.get(Conversion, row.id)
    assert (stored.status, stored.platform_ref, stored.claimed_by) == ("accepted", "r1", None)
