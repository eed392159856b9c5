"""Fixtures for the HubSpot tests: a sandbox on a fake clock and sources pointed at it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connector.config.models import HubSpotSettings
from connector.mapping import MappingProfile
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource


class FakeClock:
    """Monotonic seconds that only move when someone sleeps (the client's throttle)."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += max(0.0, seconds)


class DataClock:
    """Wall time for CRM records: each read moves 1 ms, so every change has its own time."""

    def __init__(self, start: datetime) -> None:
        self.current = start
        self.step = timedelta(milliseconds=1)

    def __call__(self) -> datetime:
        self.current += self.step
        return self.current


@pytest.fixture
def clock() -> FakeClock:
    """Shared monotonic clock of the sandbox's rate limits and the client's throttle."""
    return FakeClock()


@pytest.fixture
def data_clock() -> DataClock:
    """Modification times of seeded deals and contacts."""
    return DataClock(datetime(2026, 3, 1, tzinfo=UTC))


@pytest.fixture
def sandbox(clock: FakeClock, data_clock: DataClock) -> Iterator[HubSpotSandbox]:
    """A running HubSpot sandbox with HubSpot's default limits on the fake clocks."""
    with HubSpotSandbox(now=data_clock, monotonic=clock.monotonic) as running:
        yield running


@pytest.fixture
def make_source(sandbox: HubSpotSandbox, clock: FakeClock) -> Callable[..., HubSpotSource]:
    """Build a HubSpotSource against ``box`` (default: ``sandbox``), config overrides as kwargs."""

    def build(
        profile: MappingProfile | None = None,
        box: HubSpotSandbox | None = None,
        **overrides: object,
    ) -> HubSpotSource:
        settings = HubSpotSettings(**{**(box or sandbox).platform_config(), **overrides})
        return HubSpotSource(
            settings,
            profile or MappingProfile(),
            timeout=5.0,
            clock=clock.monotonic,
            sleep=clock.sleep,
        )

    return build


@pytest.fixture
def roomy_sandbox(clock: FakeClock, data_clock: DataClock) -> Iterator[HubSpotSandbox]:
    """A sandbox whose rate limits never bite, for tests about something else."""
    with HubSpotSandbox(
        now=data_clock,
        monotonic=clock.monotonic,
        requests_per_10s=1_000_000,
        search_per_second=1_000_000,
    ) as running:
        yield running
