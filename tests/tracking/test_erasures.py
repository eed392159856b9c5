"""The erasure queue: each item is taken by one pass at a time; a crashed pass's comes back."""

from __future__ import annotations

from datetime import timedelta

from connector.storage.models import ErasureRequest, utcnow
from connector.tracking import erasures


def _queue(runtime, n: int) -> list[int]:
    with runtime.sessions.begin() as session:
        rows = [
            ErasureRequest(
                place="ga4",
                role="destination",
                item={"client_id": f"{i}.1"},
                status="pending",
                attempts=0,
                next_attempt_at=utcnow(),
            )
            for i in range(n)
        ]
        session.add_all(rows)
        session.flush()
        return [r.id for r in rows]


def test_a_claimed_item_is_not_taken_twice_until_its_lease_runs_out(runtime):
    """Two passes at once: one gets the items; after the lease, a new pass may take them."""
    ids = _queue(runtime, 2)
    now = utcnow()
    first = erasures._claim(runtime, now, None)
    assert sorted(r.id for r in first) == ids and all(r.attempts == 1 for r in first)
    assert erasures._claim(runtime, now, None) == []
    assert erasures._claim(runtime, now, ids) == []
    later = now + timedelta(seconds=erasures.CLAIM_SECONDS + 1)
    again = erasures._claim(runtime, later, None)
    assert sorted(r.id for r in again) == ids and all(r.attempts == 2 for r in again)


def test_a_disabled_platform_is_retried_not_lost(runtime):
    """GA4 switched off meanwhile: the item waits (with the reason) instead of vanishing."""
    [item] = _queue(runtime, 1)
    erasures.work(runtime)
    places = erasures.report(runtime, [item])
    assert places["ga4"].pending == 1 and "not enabled" in places["ga4"].errors[0]
    assert erasures.outstanding(runtime) == {"pending": 1, "failed": 0}
