"""The destination contract, checked for every registered destination through its sandbox.

Expected values come from the platform side: the sandbox's ``accepted``/``rejected`` (what the
emulated platform kept or refused, in its own words) and its declarations of the platform's
rules (``max_conversion_age``, ``denied_consent``, ``transient_scope``, ``retry_hint_seconds``).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import update

from connector.storage.models import Conversion, utcnow
from tests.contract.kit import REQUIRED, World, missing_capabilities


def test_the_sandbox_implements_the_whole_destination_protocol(world: World):
    """Every member the kit relies on exists, and the declarations hold allowed values."""
    assert missing_capabilities(world.sandbox) == [], REQUIRED
    assert world.sandbox.denied_consent in ("withheld", "flagged")
    assert world.sandbox.transient_scope in ("item", "request")
    assert world.sandbox.retry_hint_seconds > 0
    assert world.cls.undeclared() == [], f"{world.name} is missing declarations"


def test_max_batch_plus_one_goes_in_exactly_two_sends_and_nothing_is_lost(world: World):
    """max_batch + 1 conversions: two API calls from the engine, every key kept once."""
    keys = world.planned(world.cls.max_batch + 1)
    summary = world.deliver()
    assert summary.error is None, summary.as_dict()
    assert summary.requests == 2, summary.as_dict()
    assert world.sandbox.requests >= 2
    assert Counter(world.kept()) == Counter(keys)
    assert {r.status for r in world.rows().values()} == {"accepted"}


def test_a_permanent_item_error_rejects_that_item_only_with_the_platforms_words(world: World):
    """fail_item(permanent): that row rejected with the platform's code and message kept."""
    keys = world.planned(5)
    bad = keys[2]
    world.fail_item(bad, permanent=True)
    summary = world.deliver()
    rows = world.rows()
    refusals = world.refusals(bad)
    assert refusals, f"the {world.name} sandbox recorded no refusal of {bad}"
    said = refusals[-1]
    assert rows[bad].status == "rejected", (rows[bad].status, rows[bad].reason)
    assert str(said["code"]) in (rows[bad].reason_code or ""), (said, rows[bad].reason_code)
    assert str(said["message"]) in (rows[bad].reason or ""), (said, rows[bad].reason)
    assert {k: r.status for k, r in rows.items() if k != bad} == dict.fromkeys(
        keys[:2] + keys[3:], "accepted"
    )
    assert sorted(world.kept()) == sorted(k for k in keys if k != bad)
    assert summary.counts.get("rejected") == 1


def test_a_transient_item_error_is_retried_after_the_hint_then_accepted_once(world: World):
    """fail_item(transient): pending until the platform's hint has passed, then kept once."""
    keys = world.planned(5)
    flaky = keys[2]
    world.fail_item(flaky, permanent=False)
    start = utcnow()
    world.deliver(now=start)
    row = world.rows()[flaky]
    hint = world.sandbox.retry_hint_seconds
    assert (row.status, row.attempts) == ("pending", 1), (row.status, row.reason)
    assert row.reason_code and row.reason
    wait = (row.next_attempt_at - start).total_seconds()
    # The hint is a floor; backoff (base 1 s) adds at most its first window on top.
    assert hint <= wait <= hint + 1.0, (wait, hint)
    if world.sandbox.transient_scope == "item":
        others = {k: r.status for k, r in world.rows().items() if k != flaky}
        assert set(others.values()) == {"accepted"}, others
    assert flaky not in world.kept()
    world.deliver(now=start + timedelta(seconds=hint / 2))  # not due yet
    assert world.rows()[flaky].attempts == 1
    world.deliver(now=start + timedelta(seconds=hint + 1.5))
    rows = world.rows()
    assert {r.status for r in rows.values()} == {"accepted"}
    assert rows[flaky].attempts == 2
    assert Counter(world.kept()) == Counter(keys)


def test_dedup_keys_are_stable_across_replans_and_nothing_is_kept_twice(world: World):
    """Plan twice: same keys, no new row; a resend after a lost answer is kept once."""
    deals = world.journeys(3)
    first = world.plan(deals)
    again = world.plan(deals, now=utcnow() + timedelta(hours=1))
    assert [r["dedup_key"] for p in first for r in p.rows] == [
        r["dedup_key"] for p in again for r in p.rows
    ]
    keys = world.store(first)
    assert len(keys) == 3
    world.deliver()
    assert world.store(again) == []  # the re-plan adds nothing
    requests = world.sandbox.requests
    world.deliver()
    assert world.sandbox.requests == requests  # nothing due, nothing sent
    # The answers were lost: the rows go out again under the same keys.
    with world.runtime.sessions.begin() as session:
        session.execute(update(Conversion).values(status="pending", next_attempt_at=None))
    world.deliver()
    assert {r.status for r in world.rows().values()} == {"accepted"}
    assert Counter(world.kept()) == Counter(keys)


def test_a_conversion_older_than_the_platform_takes_is_not_planned(world: World):
    """Past the platform's age limit: not planned, with a reason; just inside: kept."""
    limit = world.sandbox.max_conversion_age
    if limit is None:
        # The platform takes any age (declared by its sandbox): a 400-day-old deal is sent.
        keys = world.planned(1, age=timedelta(days=400))
        world.deliver()
        assert world.kept() == keys
        return
    old = world.plan(world.journeys(1, age=limit + timedelta(days=1)))
    assert old[0].rows == []
    reasons = [reason for dest, reason in old[0].not_planned if dest == world.name]
    assert reasons and all(reasons), old[0].not_planned
    keys = world.planned(1, age=limit - timedelta(days=1))
    world.deliver()
    assert world.kept() == keys


def test_a_denied_persons_conversion_never_leaves_where_the_platform_says(world: World):
    """Denied ad_user_data: withheld platforms get no request; flagged ones see the denial."""
    close = utcnow() - timedelta(days=1)
    plans = world.plan([world.journey(close, consent=False)])
    world.store(plans)
    requests = world.sandbox.requests
    summary = world.deliver()
    if world.sandbox.denied_consent == "withheld":
        assert world.sandbox.requests == requests, "a denied person's conversion was sent"
        assert world.sandbox.accepted == []
        statuses = {r.status for r in world.rows().values()}
        assert statuses <= {"skipped"}, statuses
        if statuses:  # planned, then skipped by prepare: with the platform's reason
            assert summary.counts.get("skipped") == 1
            assert all(r.reason for r in world.rows().values())
        else:
            assert plans[0].not_planned
    else:
        assert [item["consent_denied"] for item in world.sandbox.accepted] == [True]


def test_a_dry_run_counts_nothing_at_the_platform_and_changes_no_row(world: World):
    """Validate path only: the sandbox keeps nothing, every table reads the same."""
    world.planned(3)
    before = world.snapshot()
    summary = world.deliver(dry_run=True)
    figures = summary.as_dict()
    assert figures["dry_run"] is True
    assert figures.get("accepted", 0) + figures.get("not_validated", 0) == 3, figures
    assert world.sandbox.accepted == []
    assert world.snapshot() == before
