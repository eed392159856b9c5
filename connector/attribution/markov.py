"""Markov-chain attribution: each channel's removal effect, learned from all journeys.

The chain's states are the last ``order`` channels a journey passed through; every journey
starts in ``(start)`` and ends in ``(conversion)`` (as many times as it converted) or ``(null)``
(as many times as it ended without converting). A channel's *removal effect* is the share of
conversions (or of conversion value) the chain loses when every state that contains the channel
leads to ``(null)`` instead: ``1 - P(convert | channel removed) / P(convert)``. Channels are then
credited in proportion to their removal effects.

States follow the usual construction (the one ``ChannelAttribution``, the reference R/Python
package, uses, which is this module's test oracle): a journey of ``n`` channels passes through
its ``n - order + 1`` windows of ``order`` consecutive channels (one window of the whole journey
when it is shorter), and a window equal to the one before it is one stay, not a step.

Probabilities are computed exactly, not simulated: expected visits from ``(start)`` are summed
step by step over the transition graph until the mass still moving is below ``tolerance``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

START = ()
#: Stops the step-by-step sum once this little probability mass is still in transit.
TOLERANCE = 1e-13
#: A chain whose mass has not settled after this many steps has a loop it never leaves.
MAX_STEPS = 100_000


@dataclass(frozen=True)
class PathCount:
    """One distinct journey and how it ended, summed over every journey that took it."""

    channels: tuple[str, ...]
    conversions: int = 0
    value: float = 0.0
    nulls: int = 0


@dataclass(frozen=True)
class RemovalEffects:
    """What removing each channel costs the chain, by conversions and by value."""

    order: int
    conversion_probability: float
    conversions: dict[str, float]
    value: dict[str, float]
    journeys: int
    converting_journeys: int

    def shares(self, by_value: bool = True) -> dict[str, float]:
        """Removal effects normalised to sum to 1: each channel's share of the credit."""
        effects = self.value if by_value and any(self.value.values()) else self.conversions
        total = sum(effects.values())
        return {c: (e / total if total > 0 else 0.0) for c, e in effects.items()}


def windows(channels: Sequence[str], order: int) -> list[tuple[str, ...]]:
    """The chain states one journey passes through, repeats of a state collapsed."""
    n = len(channels)
    raw = [tuple(channels[i : i + order]) for i in range(max(1, n - order + 1))]
    out: list[tuple[str, ...]] = []
    for state in raw:
        if not out or out[-1] != state:
            out.append(state)
    return out


def aggregate(paths: Iterable[PathCount]) -> list[PathCount]:
    """Sum journeys that took the same path, so the chain is built once per distinct path."""
    sums: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for p in paths:
        if not p.channels:
            continue
        entry = sums[tuple(p.channels)]
        entry[0] += p.conversions
        entry[1] += p.value
        entry[2] += p.nulls
    return [PathCount(c, int(v[0]), float(v[1]), int(v[2])) for c, v in sums.items()]


class _Chain:
    """Transition counts between states, and the value of the conversions ending in each."""

    def __init__(self, paths: Sequence[PathCount], order: int) -> None:
        self.index: dict[tuple[str, ...], int] = {START: 0}
        counts: dict[tuple[int, int], float] = defaultdict(float)
        conv = defaultdict(float)
        null = defaultdict(float)
        value = defaultdict(float)
        for p in paths:
            through = p.conversions + p.nulls
            if through <= 0:
                continue
            previous = 0
            for state in windows(p.channels, order):
                here = self.index.setdefault(state, len(self.index))
                counts[(previous, here)] += through
                previous = here
            conv[previous] += p.conversions
            null[previous] += p.nulls
            value[previous] += p.value
        n = len(self.index)
        self.states = list(self.index)
        out_total = np.zeros(n)
        for (a, _), c in counts.items():
            out_total[a] += c
        for s, c in conv.items():
            out_total[s] += c
        for s, c in null.items():
            out_total[s] += c
        safe = np.where(out_total > 0, out_total, 1.0)
        edges = np.array(list(counts), dtype=np.int64).reshape(-1, 2)
        self.src, self.dst = edges[:, 0], edges[:, 1]
        self.p = np.array(list(counts.values())) / safe[self.src]
        self.p_conv = np.zeros(n)
        self.mean_value = np.zeros(n)
        for s, c in conv.items():
            self.p_conv[s] = c / safe[s]
            self.mean_value[s] = value[s] / c if c > 0 else 0.0

    def visits(self, removed: np.ndarray) -> np.ndarray:
        """Expected visits to each state from ``(start)``; removed states lead to ``(null)``."""
        n = len(self.states)
        keep = ~removed[self.src] & ~removed[self.dst]
        src, dst, p = self.src[keep], self.dst[keep], self.p[keep]
        mass = np.zeros(n)
        mass[0] = 1.0
        total = mass.copy()
        for _ in range(MAX_STEPS):
            mass = np.bincount(dst, weights=p * mass[src], minlength=n)
            total += mass
            if mass.sum() < TOLERANCE:
                return total
        raise ArithmeticError("the journey chain did not settle (a loop with no way out)")

    def outcome(self, removed: np.ndarray) -> tuple[float, float]:
        """P(conversion) and expected conversion value per journey from ``(start)``."""
        visits = self.visits(removed)
        live = ~removed
        converting = visits * self.p_conv * live
        return float(converting.sum()), float((converting * self.mean_value).sum())


def removal_effects(paths: Iterable[PathCount], order: int = 1) -> RemovalEffects:
    """Each channel's removal effect under a Markov chain of ``order`` (1 to 3 in practice)."""
    if order < 1:
        raise ValueError("order must be at least 1")
    distinct = aggregate(paths)
    chain = _Chain(distinct, order)
    channels = sorted({c for p in distinct for c in p.channels})
    nothing = np.zeros(len(chain.states), dtype=bool)
    base_conv, base_value = chain.outcome(nothing)
    by_conv: dict[str, float] = {}
    by_value: dict[str, float] = {}
    for channel in channels:
        removed = np.array([channel in state for state in chain.states])
        conv, value = chain.outcome(removed)
        by_conv[channel] = 1.0 - conv / base_conv if base_conv > 0 else 0.0
        by_value[channel] = 1.0 - value / base_value if base_value > 0 else 0.0
    return RemovalEffects(
        order=order,
        conversion_probability=base_conv,
        conversions=by_conv,
        value=by_value,
        journeys=sum(p.conversions + p.nulls for p in distinct),
        converting_journeys=sum(p.conversions for p in distinct),
    )
