"""Fixtures for sync tests: the HubSpot sandbox on a fake clock, settings, a sync runner, seeds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector.identity import email_key
from connector.runs import RunService
from connector.runtime import Runtime
from connector.storage.models import ClickId, Conversion, Person, Touchpoint, Visitor
from connector.sync import SyncStep
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource
from platforms.sandbox_kit.faults import FaultPlan

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    """Wall and monotonic time that only move when told (or when a throttle 'sleeps')."""

    wall: datetime = NOW
    mono: float = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        # A little extra so float rounding can never leave a waiting throttle stuck.
        self.mono += max(seconds, 0.0) + 1e-6

    def advance(self, **delta: float) -> None:
        step = timedelta(**delta)
        self.wall += step
        self.mono += step.total_seconds()


@pytest.fixture
def clock() -> FakeClock:
    """A fresh fake clock at NOW."""
    return FakeClock()


@pytest.fixture
def faults() -> FaultPlan:
    """No faults unless a test scripts some."""
    return FaultPlan()


@pytest.fixture
def hubspot(clock: FakeClock, faults: FaultPlan) -> Iterator[HubSpotSandbox]:
    """The HubSpot sandbox on the fake clock."""
    sandbox = HubSpotSandbox(faults, now=clock.now, monotonic=clock.monotonic)
    with sandbox.start():
        yield sandbox


GOOGLE = {
    "enabled": True,
    "customer_id": "123-456-7890",
    "conversion_action_id": "555",
    "credentials": {"client_id": "id", "client_secret": "secret", "refresh_token": "token"},
}
GA4 = {"enabled": True, "measurement_id": "G-TEST123", "api_secret": "s3cret"}
META = {"enabled": True, "pixel_id": "1234567890", "access_token": "meta-token"}


@pytest.fixture
def sync_config(hubspot: HubSpotSandbox) -> dict[str, Any]:
    """Config with HubSpot on the sandbox and the three destinations switched on."""
    return {
        "platforms": {
            "hubspot": hubspot.platform_config(),
            "google_ads": dict(GOOGLE),
            "ga4": dict(GA4),
            "meta": dict(META),
        }
    }


@pytest.fixture
def sync_runtime(make_settings, sync_config) -> Iterator[Runtime]:
    """A migrated runtime with the sync config."""
    rt = Runtime.from_settings(make_settings(sync_config))
    yield rt
    rt.close()


def source_factory(clock: FakeClock, wrap: Any = None) -> Any:
    """Build the real HubSpotSource with throttles on the fake clock (no real waiting)."""

    def build(settings: Any, profile: Any) -> Any:
        source = HubSpotSource(
            settings.platforms.hubspot, profile, clock=clock.monotonic, sleep=clock.sleep
        )
        return wrap(source) if wrap else source

    return build


@dataclass
class Syncer:
    """Runs the sync step under the lease, like the scheduler does."""

    runtime: Runtime
    clock: FakeClock
    wrap: Any = None
    last: dict[str, Any] = field(default_factory=dict)

    def step(self) -> SyncStep:
        return SyncStep(source_factory=source_factory(self.clock, self.wrap), now=self.clock.now)

    def service(self) -> RunService:
        return RunService(self.runtime, steps=[self.step()])

    def __call__(self, **options: Any) -> str:
        from connector.runs import get_run

        run_id, status = self.service().run_now("test", **options)
        run = get_run(self.runtime, run_id)
        assert run is not None
        self.last = {"counts": run.counts, "summary": run.summary, "error": run.error}
        return status


@pytest.fixture
def sync(sync_runtime: Runtime, clock: FakeClock) -> Syncer:
    """Call to run one sync; ``sync.last`` has its counts and summary."""
    return Syncer(sync_runtime, clock)


def outbox(runtime: Runtime) -> list[tuple[Any, ...]]:
    """The outbox as comparable tuples, in a stable order."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(
                Conversion.deal_id,
                Conversion.destination,
                Conversion.kind,
                Conversion.dedup_key,
                Conversion.adjusts_key,
                Conversion.value,
                Conversion.currency,
                Conversion.event_time,
                Conversion.event_name,
                Conversion.identifiers,
            ).order_by(Conversion.destination, Conversion.kind, Conversion.dedup_key)
        ).all()
    return [tuple(r) for r in rows]


@dataclass
class Seeder:
    """Writes tracked people and journeys straight into the store."""

    runtime: Runtime
    n: int = 0

    def person(self, email: str, *, contact_id: str | None = None) -> int:
        with self.runtime.sessions.begin() as session:
            person = Person(email_sha256=email_key(email), crm_contact_id=contact_id)
            session.add(person)
            session.flush()
            return person.id

    def visitor(self, person_id: int | None = None, **fields: Any) -> str:
        self.n += 1
        vid = f"v{self.n:04d}"
        with self.runtime.sessions.begin() as session:
            session.add(
                Visitor(
                    id=vid,
                    person_id=person_id,
                    first_seen_at=NOW - timedelta(days=200),
                    last_seen_at=NOW,
                    **fields,
                )
            )
        return vid

    def touch(
        self, visitor_id: str, at: datetime, *, click: tuple[str, str] | None = None, **fields: Any
    ) -> int:
        with self.runtime.sessions.begin() as session:
            tp = Touchpoint(
                visitor_id=visitor_id,
                occurred_at=at,
                url="https://example.com/",
                channel=fields.pop("channel", "Paid Search" if click else "Direct"),
                source=fields.pop("source", "google" if click else None),
                click_ids={click[0]: click[1]} if click else None,
                **fields,
            )
            session.add(tp)
            session.flush()
            if click:
                session.add(
                    ClickId(
                        visitor_id=visitor_id,
                        kind=click[0],
                        value=click[1],
                        first_seen_at=at,
                        touchpoint_id=tp.id,
                    )
                )
            return tp.id


@pytest.fixture
def seed(sync_runtime: Runtime) -> Seeder:
    """Seed journeys into the store."""
    return Seeder(sync_runtime)


def won_deal(
    hubspot: HubSpotSandbox,
    contact_ids: list[str],
    amount: Any = "1000",
    close: datetime | None = None,
    **props: Any,
) -> str:
    """A closed-won deal in the default pipeline."""
    values = {
        "dealname": "Deal",
        "amount": amount,
        "deal_currency_code": "USD",
        "closedate": (close or NOW - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "dealstage": "closedwon",
        **props,
    }
    return hubspot.add_deal({k: v for k, v in values.items() if v is not None}, contact_ids)
