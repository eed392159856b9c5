"""Shapley-value attribution over channels, learned from converting journeys.

The channels are players; a coalition ``S`` of channels is worth what the journeys whose
channels all lie in ``S`` converted (their conversions, or their value): ``v(S) = sum of
conv(T) for T subset of S``, ``conv(T)`` being what journeys over exactly the channel set ``T``
earned (Zhao et al., 2018, "Shapley Value Methods for Attribution Modeling in Online
Advertising"). A channel's Shapley value is its marginal worth averaged over every order in
which the coalition could form.

Exact for up to ``EXACT_LIMIT`` channels (every coalition, ``n * 2**n`` steps, with the subset
sums of ``v`` built by one zeta transform); above that, estimated by sampling random orders
(``samples`` permutations, seeded so a re-run gives the same credit).
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

#: Most channels computed exactly; more are estimated by sampled orders.
EXACT_LIMIT = 12
DEFAULT_SAMPLES = 2000


@dataclass(frozen=True)
class ShapleyValues:
    """Each channel's Shapley value, and how it was computed."""

    values: dict[str, float]
    exact: bool
    converting_journeys: int

    def shares(self) -> dict[str, float]:
        """Values normalised to sum to 1."""
        total = sum(self.values.values())
        return {c: (v / total if total > 0 else 0.0) for c, v in self.values.items()}


def shapley_values(
    journeys: Iterable[tuple[Iterable[str], float]],
    *,
    exact_limit: int = EXACT_LIMIT,
    samples: int = DEFAULT_SAMPLES,
    seed: int = 0,
) -> ShapleyValues:
    """Shapley value per channel from ``(channels, worth)`` of each converting journey."""
    worth: dict[frozenset[str], float] = defaultdict(float)
    count = 0
    for channels, amount in journeys:
        members = frozenset(channels)
        if members and amount:
            worth[members] += amount
            count += 1
    players = sorted({c for members in worth for c in members})
    if not players:
        return ShapleyValues({}, True, 0)
    bit = {c: 1 << i for i, c in enumerate(players)}
    by_mask: dict[int, float] = defaultdict(float)
    for members, amount in worth.items():
        by_mask[sum(bit[c] for c in members)] += amount
    if len(players) <= exact_limit:
        values = _exact(len(players), by_mask)
        exact = True
    else:
        values = _sampled(len(players), by_mask, samples, seed)
        exact = False
    return ShapleyValues(dict(zip(players, values, strict=True)), exact, count)


def _exact(n: int, by_mask: dict[int, float]) -> list[float]:
    v = np.zeros(1 << n)
    for mask, amount in by_mask.items():
        v[mask] += amount
    masks = np.arange(1 << n)
    for i in range(n):  # zeta transform: v[S] = sum of worth over subsets of S
        has = (masks >> i) & 1 == 1
        v[has] += v[masks[has] ^ (1 << i)]
    sizes = np.array([bin(m).count("1") for m in range(1 << n)])
    weight = np.array([math.factorial(k) * math.factorial(n - k - 1) for k in range(n)])
    weight = weight / math.factorial(n)
    out = []
    for i in range(n):
        without = masks[(masks >> i) & 1 == 0]
        out.append(float((weight[sizes[without]] * (v[without | (1 << i)] - v[without])).sum()))
    return out


def _sampled(n: int, by_mask: dict[int, float], samples: int, seed: int) -> list[float]:
    members = [([i for i in range(n) if mask >> i & 1], amount) for mask, amount in by_mask.items()]
    rng = random.Random(seed)
    totals = [0.0] * n
    order = list(range(n))
    arrival = [0] * n
    for _ in range(samples):
        rng.shuffle(order)
        for position, player in enumerate(order):
            arrival[player] = position
        # v(P + i) - v(P) is the worth of the channel sets that i's arrival completes.
        for players, amount in members:
            totals[max(players, key=arrival.__getitem__)] += amount
    return [t / samples for t in totals]
