"""Empirical-Bayes shrinkage of a source's lead value toward the stage's overall value. Pure.

A campaign with three leads, one of which closed a large deal, has a raw mean that says more
about luck than about the campaign. So each source's value is a weighted average of its own
mean and the overall value of the stage, the overall one weighing as much as ``k`` leads
(the prior weight):

    value = (n · mean + k · overall) / (n + k) = (revenue + k · overall) / (n + k)

With many leads the source's own mean dominates; with few, the overall value does. The result
always lies between the two, so it is never above what some observed data supports; values
come from closed-won revenue only (open pipeline never counts), rounded half-up to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def mean(n: int, revenue: Decimal) -> Decimal:
    """Revenue per lead (0 without leads)."""
    return revenue / n if n else Decimal(0)


def shrunk(n: int, revenue: Decimal, overall: Decimal, prior_weight: Decimal) -> Decimal:
    """``(revenue + k·overall) / (n + k)``, kept between the source's mean and ``overall``."""
    if n < 0 or revenue < 0:
        raise ValueError("lead counts and revenue cannot be negative")
    weight = n + prior_weight
    if weight == 0:
        return overall.quantize(CENT, ROUND_HALF_UP)
    value = (revenue + prior_weight * overall) / weight
    own = mean(n, revenue) if n else overall
    low, high = min(own, overall), max(own, overall)
    return min(max(value, low), high).quantize(CENT, ROUND_HALF_UP)
