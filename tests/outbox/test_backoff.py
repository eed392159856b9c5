"""Retry timing: exponential windows, full jitter, the cap, the platform's hint as a floor."""

from __future__ import annotations

import random

import pytest

from connector.outbox.backoff import MIN_DELAY_SECONDS, RetryPolicy


class Top:
    """Always draws the top of the window, to see the window itself."""

    def uniform(self, a: float, b: float) -> float:
        return b


POLICY = RetryPolicy(base_seconds=30, max_seconds=600, max_attempts=5)


@pytest.mark.parametrize(
    ("attempts", "window"), [(1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 600), (99, 600)]
)
def test_window_doubles_then_caps(attempts: int, window: float):
    """The jitter window doubles with each attempt and never exceeds backoff_max_seconds."""
    assert POLICY.window(attempts) == window
    assert POLICY.delay(attempts, rng=Top()) == window


def test_full_jitter_spreads_between_zero_and_window():
    """Delays are drawn over the whole window, so a failed batch does not retry in lockstep."""
    rng = random.Random(7)
    delays = [POLICY.delay(4, rng=rng) for _ in range(2000)]
    assert min(delays) < 30 and max(delays) > 210
    assert all(MIN_DELAY_SECONDS <= d <= 240 for d in delays)


def test_hint_is_a_floor_even_above_the_cap():
    """A platform's Retry-After is never undercut, even when it exceeds the cap."""
    rng = random.Random(1)
    assert all(POLICY.delay(1, hint=25, rng=rng) >= 25 for _ in range(500))
    assert POLICY.delay(3, hint=3600, rng=rng) == 3600


def test_delay_is_never_zero():
    """A retry is never due again within the pass that made it."""

    class Bottom:
        def uniform(self, a: float, b: float) -> float:
            return a

    assert POLICY.delay(1, rng=Bottom()) == MIN_DELAY_SECONDS


def test_attempts_are_bounded():
    """The max_attempts-th failure makes a dead letter, not another retry."""
    assert not POLICY.exhausted(4)
    assert POLICY.exhausted(5)
