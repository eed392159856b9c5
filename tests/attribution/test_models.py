"""Attribution models on hand-computed journeys, and properties that must always hold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.attribution import MODELS, attribute, split_amount, weights

CLOSE = datetime(2026, 3, 31, 12, tzinfo=UTC)


def days_before(*days: float) -> list[datetime]:
    return [CLOSE - timedelta(days=d) for d in days]


def test_first_and_last_click_give_everything_to_one_touch():
    """First click credits the oldest touch, last click the newest."""
    times = days_before(30, 10, 1)
    assert weights("first_click", times) == [1, 0, 0]
    assert weights("last_click", times) == [0, 0, 1]


def test_linear_splits_1000_over_three_touches_to_the_cent():
    """Linear: 1000 over 3 touches is 333.34 / 333.33 / 333.33 (largest remainder, earliest)."""
    shares = attribute("linear", days_before(3, 2, 1), Decimal("1000"))
    assert [s.weight for s in shares] == [Fraction(1, 3)] * 3
    assert [s.revenue for s in shares] == [Decimal("333.34"), Decimal("333.33"), Decimal("333.33")]


def test_position_based_is_40_20_40_with_the_middle_shared():
    """Position-based over 4 touches: 40 %, 10 %, 10 %, 40 % of 250 = 100, 25, 25, 100."""
    shares = attribute("position_based", days_before(4, 3, 2, 1), Decimal("250"))
    assert [s.weight for s in shares] == [
        Fraction(2, 5),
        Fraction(1, 10),
        Fraction(1, 10),
        Fraction(2, 5),
    ]
    assert [s.revenue for s in shares] == [
        Decimal("100.00"),
        Decimal("25.00"),
        Decimal("25.00"),
        Decimal("100.00"),
    ]


@pytest.mark.parametrize(
    ("count", "expected"),
    [(1, [Fraction(1)]), (2, [Fraction(1, 2), Fraction(1, 2)])],
)
def test_position_based_with_one_or_two_touches(count, expected):
    """One touch takes 100 %, two touches split 50/50."""
    assert weights("position_based", days_before(*range(count, 0, -1))) == expected


def test_time_decay_halves_per_half_life():
    """Touches 14, 7 and 0 days before close with a 7-day half-life weigh 1:2:4 (1/7, 2/7, 4/7)."""
    exact = weights("time_decay", days_before(14, 7, 0), close_time=CLOSE, half_life_days=7)
    assert exact == [Fraction(1, 7), Fraction(2, 7), Fraction(4, 7)]
    shares = attribute(
        "time_decay", days_before(14, 7, 0), Decimal("700"), close_time=CLOSE, half_life_days=7
    )
    assert [s.revenue for s in shares] == [Decimal("100.00"), Decimal("200.00"), Decimal("400.00")]


def test_time_decay_survives_touches_far_older_than_the_half_life():
    """A touch 700 half-lives old gets weight 0 instead of breaking the sum."""
    exact = weights("time_decay", days_before(700, 0), close_time=CLOSE, half_life_days=1)
    assert sum(exact) == 1
    assert exact[1] > Fraction(999, 1000)


def test_unknown_model_is_an_error():
    """A typo'd model name fails loudly instead of crediting nothing."""
    with pytest.raises(ValueError, match="unknown attribution model"):
        weights("u_shaped", days_before(1))


def test_split_keeps_sub_cent_amounts_exact():
    """Amounts finer than a cent are split in their own unit and still sum exactly."""
    parts = split_amount(Decimal("0.005"), [Fraction(1, 3)] * 3)
    assert sum(parts) == Decimal("0.005")
    assert parts == [Decimal("0.002"), Decimal("0.002"), Decimal("0.001")]


def test_split_all_zero_weights_is_even():
    """Zero weights (e.g. restating zero-valued rows) split evenly rather than dividing by 0."""
    assert split_amount(Decimal("10"), [Fraction(0), Fraction(0)]) == [Decimal("5.00")] * 2


amounts = st.decimals(min_value=0, max_value=Decimal("99999999.99"), places=2)
ages = st.lists(st.floats(min_value=0, max_value=730), min_size=1, max_size=30)


@given(
    model=st.sampled_from(MODELS),
    age_days=ages,
    amount=amounts,
    half_life=st.floats(min_value=0.01, max_value=365),
)
def test_weights_sum_to_one_and_shares_to_the_amount(model, age_days, amount, half_life):
    """Whatever the journey, weights sum to exactly 1 and revenue to exactly the amount."""
    times = sorted(days_before(*age_days))
    shares = attribute(model, times, amount, close_time=CLOSE, half_life_days=half_life)
    assert sum(s.weight for s in shares) == 1
    assert sum(s.revenue for s in shares) == amount
    assert all(s.revenue >= 0 for s in shares)
    assert all(s.revenue == s.revenue.quantize(Decimal("0.01")) for s in shares)


@given(
    amount=amounts, raw=st.lists(st.fractions(min_value=0, max_value=100), min_size=1, max_size=20)
)
def test_split_amount_sums_and_stays_within_a_cent_of_the_exact_quota(amount, raw):
    """Largest remainder: every part is within one cent of its exact share, total exact."""
    parts = split_amount(amount, raw)
    assert sum(parts) == amount
    total = sum(raw)
    for part, weight in zip(parts, raw, strict=True):
        exact = Fraction(amount) * (weight / total if total else Fraction(1, len(raw)))
        assert abs(Fraction(part) - exact) < Fraction(1, 100)
