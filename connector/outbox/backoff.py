"""When to try a failed conversion again: exponential backoff with full jitter.

Full jitter (a uniform draw between zero and the exponential window) spreads the retries of a
batch that failed together, so they do not hit a recovering platform all at once. A platform's
own hint (``Retry-After``, RESOURCE_EXHAUSTED retry delay) is a floor: sending earlier than the
platform asked only earns another 429.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

#: Never retry sooner than this, so a retry is never due again within the pass that made it.
MIN_DELAY_SECONDS = 1.0


class Uniform(Protocol):
    """The part of ``random.Random`` backoff needs (tests pass a seeded one)."""

    def uniform(self, a: float, b: float) -> float:
        """A number between ``a`` and ``b``."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff shape and the attempt bound (from ``settings.delivery``)."""

    base_seconds: float = 30.0
    max_seconds: float = 6 * 3600.0
    max_attempts: int = 8

    @classmethod
    def from_settings(cls, delivery: object) -> RetryPolicy:
        """Build from a ``DeliverySettings``."""
        return cls(
            base_seconds=delivery.backoff_base_seconds,  # type: ignore[attr-defined]
            max_seconds=delivery.backoff_max_seconds,  # type: ignore[attr-defined]
            max_attempts=delivery.max_attempts,  # type: ignore[attr-defined]
        )

    def window(self, attempts: int) -> float:
        """The upper bound of the jitter draw after ``attempts`` failed attempts (1-based)."""
        exponent = max(0, attempts - 1)
        # Past ~60 doublings every window is the cap; avoid float overflow on huge counts.
        if exponent > 60:
            return self.max_seconds
        return min(self.max_seconds, self.base_seconds * (2**exponent))

    def delay(self, attempts: int, hint: float | None = None, rng: Uniform | None = None) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt, honouring ``hint``."""
        drawn = (rng or random).uniform(0.0, self.window(attempts))
        return max(drawn, hint or 0.0, MIN_DELAY_SECONDS)

    def exhausted(self, attempts: int) -> bool:
        """True when ``attempts`` failed attempts mean the conversion is a dead letter."""
        return attempts >= self.max_attempts
