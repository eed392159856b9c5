"""Data-driven models against an independent implementation and the rules they must obey.

The Markov removal effects are checked against ``ChannelAttribution`` (the reference package
for Markov attribution, in the dev extras), which estimates them by simulating the chain; we
compute them exactly, so the two agree within its simulation error. ``ChannelAttribution``
stops each simulated journey after ``max_step`` steps (by default the longest observed journey,
which cuts chains with loops short); the oracle runs with a cap far above any real journey so
both compute the same chain.
"""

from __future__ import annotations

import itertools
import math
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.attribution.markov import PathCount, removal_effects, windows
from connector.attribution.shapley import shapley_values

CHANNELS = ("Paid Search", "Organic Search", "Paid Social", "Email", "Referral", "Display")


def generated_paths(seed: int, journeys: int = 3000) -> list[PathCount]:
    """Journeys with channel-dependent conversion odds and values, so effects differ."""
    rng = random.Random(seed)
    lift = {c: 0.04 * (i + 1) for i, c in enumerate(CHANNELS)}
    out = []
    for _ in range(journeys):
        length = rng.choice((1, 1, 2, 2, 3, 4, 5))
        path = tuple(rng.choice(CHANNELS[: 3 + rng.randrange(4)]) for _ in range(length))
        odds = min(0.9, sum(lift[c] for c in set(path)))
        converted = rng.random() < odds
        value = float(rng.choice((100, 250, 1000))) if converted else 0.0
        out.append(PathCount(path, int(converted), value, int(not converted)))
    return out


def oracle(paths: list[PathCount], order: int) -> dict[str, tuple[float, float]]:
    pandas = pytest.importorskip("pandas")
    ca = pytest.importorskip("ChannelAttribution")
    rows = {}
    for p in paths:
        key = " > ".join(p.channels)
        conv, value, null = rows.get(key, (0, 0.0, 0))
        rows[key] = (conv + p.conversions, value + p.value, null + p.nulls)
    data = pandas.DataFrame(
        [(k, c, v, n) for k, (c, v, n) in rows.items()], columns=["path", "conv", "value", "null"]
    )
    result = ca.markov_model(
        data,
        "path",
        "conv",
        var_value="value",
        var_null="null",
        order=order,
        out_more=True,
        verbose=False,
        flg_pro=False,
        nsim_start=100_000,
        conv_par=0.001,
        max_step=1000,
        seed=7,
        ncore=2,
    )["removal_effects"]
    return {
        r["channel_name"]: (r["removal_effects_conversion"], r["removal_effects_conversion_value"])
        for r in result.to_dict("records")
    }


@pytest.mark.skipif(
    bool(os.environ.get("CLOSEDLOOP_TEST_DATABASE_URL")),
    reason="no database involved: runs in the SQLite pass only (the oracle takes minutes)",
)
@pytest.mark.parametrize("order", [1, 2, 3])
def test_removal_effects_match_channelattribution_within_1_percent(order):
    """Orders 1 to 3 on 3,000 generated journeys: every channel within 1 % of the oracle."""
    paths = generated_paths(seed=order)
    ours = removal_effects(paths, order=order)
    theirs = oracle(paths, order)
    assert set(theirs) == set(ours.conversions)
    for channel, (by_conv, by_value) in theirs.items():
        assert ours.conversions[channel] == pytest.approx(by_conv, rel=0.01), channel
        assert ours.value[channel] == pytest.approx(by_value, rel=0.01), channel


def test_windows_collapse_repeats_and_slide_by_one():
    """Order 1 collapses repeats; order 2 slides windows of two; a short journey is one state."""
    assert windows(("a", "a", "b"), 1) == [("a",), ("b",)]
    assert windows(("a", "a", "b", "c"), 2) == [("a", "a"), ("a", "b"), ("b", "c")]
    assert windows(("a",), 3) == [("a",)]


def test_a_hand_computed_chain():
    """start->a always; from a: half convert, half go to b; b: a third converts.

    Journeys: 2x "a" converting, 1x "a > b" converting, 2x "a > b" not converting.
    From a: 2 of 5 convert, 3 of 5 go on to b; from b: 1 of 3 converts.
    P(conv) = 2/5 + 3/5 * 1/3 = 3/5. Without b: 2/5, effect 1 - (2/5)/(3/5) = 1/3.
    Without a: nothing converts, effect 1.
    """
    paths = [PathCount(("a",), 2, 200.0, 0), PathCount(("a", "b"), 1, 50.0, 2)]
    effects = removal_effects(paths)
    assert effects.conversion_probability == pytest.approx(3 / 5)
    assert effects.conversions == pytest.approx({"a": 1.0, "b": 1 / 3})
    # Value: 2/5 * 100 (a's conversions are worth 100 each) + 1/5 * 50 = 50; without b: 40.
    assert effects.value == pytest.approx({"a": 1.0, "b": 1 - 40 / 50})


def test_a_channel_on_no_converting_path_has_no_removal_effect():
    """Removing a channel only ever seen on journeys that did not convert costs nothing."""
    paths = [PathCount(("a",), 3, 300.0, 1), PathCount(("z",), 0, 0.0, 5)]
    assert removal_effects(paths).conversions["z"] == 0.0


def definition_shapley(worth: dict[frozenset[str], float]) -> dict[str, float]:
    """The textbook definition, over every ordering of the players (tiny games only)."""
    players = sorted(set().union(*worth))

    def v(coalition: set[str]) -> float:
        return sum(w for members, w in worth.items() if members <= coalition)

    out = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for ordering in orders:
        seen: set[str] = set()
        for p in ordering:
            out[p] += v(seen | {p}) - v(seen)
            seen.add(p)
    return {p: x / len(orders) for p, x in out.items()}


def test_shapley_hand_computed():
    """{a}: 60, {a, b}: 40. v(a)=60, v(b)=0, v(ab)=100: a gets 60 + 40/2 = 80, b gets 20."""
    result = shapley_values([(("a",), 60.0), (("a", "b"), 40.0)])
    assert result.exact
    assert result.values == pytest.approx({"a": 80.0, "b": 20.0})


journeys_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4),
        st.integers(min_value=1, max_value=1000).map(float),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(journeys_strategy)
def test_shapley_equals_the_definition_and_sums_to_the_total(journeys):
    """Exact values equal the permutation definition; they sum to all converting worth."""
    worth: dict[frozenset[str], float] = {}
    for channels, amount in journeys:
        worth[frozenset(channels)] = worth.get(frozenset(channels), 0.0) + amount
    result = shapley_values(journeys)
    assert result.values == pytest.approx(definition_shapley(worth))
    assert sum(result.values.values()) == pytest.approx(sum(a for _, a in journeys))


def test_symmetric_channels_get_equal_credit():
    """Channels a and b sit in the same journeys: equal Shapley values and removal effects."""
    journeys = [(("a", "b"), 100.0), (("b", "a", "c"), 50.0), (("c",), 30.0)]
    values = shapley_values(journeys).values
    assert values["a"] == pytest.approx(values["b"])
    paths = [PathCount(("a", "b"), 1, 100.0, 2), PathCount(("b", "a"), 1, 100.0, 2)]
    effects = removal_effects(paths).conversions
    assert effects["a"] == pytest.approx(effects["b"])


def test_sampled_shapley_converges_to_the_exact_values():
    """Above the exact limit, sampled orders estimate the same values (within 5 % each)."""
    rng = random.Random(3)
    names = [f"ch{i}" for i in range(14)]
    journeys = [
        (rng.sample(names, rng.randrange(1, 5)), float(rng.randrange(50, 500))) for _ in range(200)
    ]
    exact = shapley_values(journeys, exact_limit=20)
    sampled = shapley_values(journeys, exact_limit=12, samples=10_000)
    assert exact.exact and not sampled.exact
    for channel, value in exact.values.items():
        assert math.isclose(sampled.values[channel], value, rel_tol=0.05), channel
