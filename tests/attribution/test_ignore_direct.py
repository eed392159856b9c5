"""GA4's "last non-direct click" (``attribution.ignore_direct``) on hand-computed journeys.

Journey A, closing 2026-03-31 12:00 for 1,000.00: Direct 30 days before, Paid Search 10 days
before, Direct 1 day before. Ignoring Direct, Paid Search is the only credited touch and takes
all 1,000.00 under every model; without the rule, last click gives the final Direct visit
1,000.00 and linear gives 333.34 / 333.33 / 333.33.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.attribution import MODELS, attribute, credited, is_direct

CLOSE = datetime(2026, 3, 31, 12, tzinfo=UTC)


def journey(*touches: tuple[float, str | None]) -> list[tuple[datetime, str | None]]:
    """(time, channel) pairs from (days before close, channel), oldest first."""
    return [(CLOSE - timedelta(days=d), channel) for d, channel in touches]


def shares(model: str, touches, amount: str, *, ignore_direct: bool, half_life: float = 7):
    """(channel, revenue) of each credited touch."""
    kept = credited(touches, lambda t: is_direct(t[1]), ignore_direct=ignore_direct)
    out = attribute(
        model,
        [t[0] for t in kept],
        Decimal(amount),
        close_time=CLOSE,
        half_life_days=half_life,
    )
    return [(kept[s.index][1], s.revenue) for s in out]


A = journey((30, "Direct"), (10, "Paid Search"), (1, "Direct"))


def test_direct_is_the_channel_and_a_missing_channel_counts_as_direct():
    """'Direct' and no channel are Direct; every other GA4 channel group is not."""
    assert is_direct("Direct") and is_direct(None) and is_direct("")
    assert not any(is_direct(c) for c in ("Paid Search", "Organic Search", "Referral", "Email"))


@pytest.mark.parametrize("model", MODELS)
def test_the_one_non_direct_touch_takes_everything_under_every_model(model):
    """Journey A with ignore_direct: Paid Search gets 1,000.00 whatever the model."""
    assert shares(model, A, "1000", ignore_direct=True) == [("Paid Search", Decimal("1000.00"))]


def test_without_the_rule_direct_keeps_its_credit():
    """Journey A without ignore_direct: last click 1,000 to Direct; linear 333.34/333.33/333.33."""
    assert shares("last_click", A, "1000", ignore_direct=False) == [
        ("Direct", Decimal("0.00")),
        ("Paid Search", Decimal("0.00")),
        ("Direct", Decimal("1000.00")),
    ]
    assert [r for _, r in shares("linear", A, "1000", ignore_direct=False)] == [
        Decimal("333.34"),
        Decimal("333.33"),
        Decimal("333.33"),
    ]


def test_a_journey_of_direct_visits_only_keeps_them():
    """Direct 3 and 1 days before, 500.00: nothing else to credit, linear gives 250.00 each."""
    only_direct = journey((3, "Direct"), (1, "Direct"))
    assert shares("linear", only_direct, "500", ignore_direct=True) == [
        ("Direct", Decimal("250.00")),
        ("Direct", Decimal("250.00")),
    ]


def test_position_based_spreads_over_the_non_direct_ends():
    """Organic 20d, Direct 15d, Paid 10d, Direct 1d, 1,000: 500/500, else 400/100/100/400."""
    touches = journey((20, "Organic Search"), (15, "Direct"), (10, "Paid Search"), (1, "Direct"))
    assert shares("position_based", touches, "1000", ignore_direct=True) == [
        ("Organic Search", Decimal("500.00")),
        ("Paid Search", Decimal("500.00")),
    ]
    assert [r for _, r in shares("position_based", touches, "1000", ignore_direct=False)] == [
        Decimal("400.00"),
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("400.00"),
    ]


def test_time_decay_decays_over_the_credited_touches_only():
    """Paid 14d, Direct 7d, Email 0d, half-life 7: 1:4 of 500 = 100/400 (without: 1:2:4)."""
    touches = journey((14, "Paid Search"), (7, "Direct"), (0, "Email"))
    assert shares("time_decay", touches, "500", ignore_direct=True) == [
        ("Paid Search", Decimal("100.00")),
        ("Email", Decimal("400.00")),
    ]
    assert [r for _, r in shares("time_decay", touches, "700", ignore_direct=False)] == [
        Decimal("100.00"),
        Decimal("200.00"),
        Decimal("400.00"),
    ]


channels = st.sampled_from(["Direct", None, "Paid Search", "Organic Social", "Email"])


@given(
    model=st.sampled_from(MODELS),
    touches=st.lists(st.tuples(st.floats(0, 90), channels), min_size=1, max_size=20),
    amount=st.decimals(min_value=0, max_value=Decimal("9999999.99"), places=2),
    ignore_direct=st.booleans(),
)
def test_credit_goes_to_non_direct_touches_and_still_sums_to_the_amount(
    model, touches, amount, ignore_direct
):
    """Credited touches keep their order, hold Direct only if all are, and split exactly."""
    ordered = sorted(journey(*touches), key=lambda t: t[0])
    positions = list(range(len(ordered)))
    kept_at = credited(positions, lambda i: is_direct(ordered[i][1]), ignore_direct=ignore_direct)
    assert kept_at and kept_at == sorted(set(kept_at))  # a subsequence, order kept
    kept = [ordered[i] for i in kept_at]
    any_other = any(not is_direct(c) for _, c in ordered)
    if ignore_direct and any_other:
        assert not any(is_direct(c) for _, c in kept)
        assert len(kept) == sum(1 for _, c in ordered if not is_direct(c))
    else:
        assert kept == ordered
    result = attribute(model, [t for t, _ in kept], amount, close_time=CLOSE)
    assert sum(s.revenue for s in result) == amount
    assert sum(s.weight for s in result) == Fraction(1)
