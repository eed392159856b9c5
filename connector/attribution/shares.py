"""Money shares that add up exactly: the largest-remainder method over Decimal amounts."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Share:
    """One touchpoint's exact weight and its revenue in money."""

    index: int
    weight: Fraction
    revenue: Decimal


def quantum_for(amount: Decimal) -> Decimal:
    """The money unit to split in: a cent, or finer when the amount itself is finer."""
    exponent = amount.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"amount {amount} is not a finite number")
    return min(CENT, Decimal(1).scaleb(exponent))


def split_amount(
    amount: Decimal, weights: Sequence[Fraction], quantum: Decimal | None = None
) -> list[Decimal]:
    """Split ``amount`` by ``weights`` into multiples of ``quantum`` that sum to ``amount``.

    Each part gets the floor of its exact quota; the units left over go to the largest
    remainders (ties to the earlier position), so the result is deterministic and exact.
    Weights need not be normalised; all-zero weights split evenly.
    """
    if not weights:
        return []
    if amount < 0:
        return [-part for part in split_amount(-amount, weights, quantum)]
    quantum = quantum or quantum_for(amount)
    parts, total = integer_parts(weights)
    return [quantum * n for n in split_units(units_of(amount, quantum), parts, total)]


def units_of(amount: Decimal, quantum: Decimal) -> int:
    """How many ``quantum`` make ``amount`` (which must be a whole multiple of it)."""
    scaled = amount / quantum
    if scaled != scaled.to_integral_value():
        raise ValueError(f"amount {amount} is not a multiple of {quantum}")
    return int(scaled)


def integer_parts(weights: Sequence[Fraction]) -> tuple[tuple[int, ...], int]:
    """Weights as integers over a common denominator, and their sum (exact, and fast to split).

    Ints and Fractions both have numerator/denominator. All-zero weights become equal parts.
    """
    common = math.lcm(*(w.denominator for w in weights))
    parts = tuple(w.numerator * (common // w.denominator) for w in weights)
    if min(parts) < 0:
        raise ValueError("weights must not be negative")
    total = sum(parts)
    if total == 0:
        return (1,) * len(parts), len(parts)
    return parts, total


def split_units(units: int, parts: Sequence[int], total: int) -> list[int]:
    """``units`` spread in proportion to ``parts``: floors, then largest remainders first.

    Pure integer arithmetic, so models whose parts depend only on the number of touches can
    compute them once and split every deal's amount with this alone.
    """
    floors = [units * p // total for p in parts]
    left = units - sum(floors)
    if left:
        remainders = [units * p % total for p in parts]
        by_remainder = sorted(range(len(parts)), key=lambda i: (-remainders[i], i))
        for i in by_remainder[:left]:
            floors[i] += 1
    return floors
