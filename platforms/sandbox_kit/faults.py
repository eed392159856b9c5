"""Deterministic fault injection: the same seed gives the same faults on the same requests."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from enum import StrEnum


class Fault(StrEnum):
    """What can go wrong with one request."""

    RATE_LIMIT = "rate_limit"  # 429 (or RESOURCE_EXHAUSTED) with a retry hint
    SERVER_ERROR = "server_error"  # 500
    UNAVAILABLE = "unavailable"  # 503
    SLOW = "slow"  # answer after ``slow_seconds``
    TIMEOUT = "timeout"  # hold the request past any sane client timeout, then drop it
    DROP = "drop"  # close the connection without answering, before processing
    LOST_RESPONSE = "lost_response"  # process (accept!) the request, then drop the answer


@dataclass
class FaultPlan:
    """Rates per fault kind, drawn from a seeded generator under a lock.

    ``rates`` maps a fault to its probability per request; at most one fault applies to a
    request. ``script`` forces faults on specific request numbers (1-based), which tests use
    to hit an exact step.
    """

    rates: dict[Fault, float] = field(default_factory=dict)
    seed: int = 0
    retry_after_seconds: float = 1.0
    slow_seconds: float = 0.05
    timeout_seconds: float = 30.0
    latency_seconds: float = 0.0
    script: dict[int, Fault] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)
    _count: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        total = sum(self.rates.values())
        if total > 1:
            raise ValueError(f"fault rates add up to {total} > 1")

    @classmethod
    def none(cls) -> FaultPlan:
        """No faults at all."""
        return cls()

    def draw(self) -> Fault | None:
        """The fault for the next request, if any."""
        with self._lock:
            self._count += 1
            if self._count in self.script:
                return self.script[self._count]
            roll = self._rng.random()
        edge = 0.0
        for fault, rate in self.rates.items():
            edge += rate
            if roll < edge:
                return fault
        return None

    @property
    def requests_seen(self) -> int:
        """How many requests drew from this plan."""
        return self._count
