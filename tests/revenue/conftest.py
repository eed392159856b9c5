"""Fixtures for the revenue webhook: Google, GA4 and Meta sandboxes, the app, a run, journeys."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connector.app import create_app
from connector.identity import email_key
from connector.outbox import DeliverStep
from connector.revenue.signature import HEADER, sign
from connector.revenue.step import RevenueStep
from connector.runs import RunService, get_run
from connector.runtime import Runtime
from connector.storage.models import ClickId, Conversion, Person, Touchpoint, Visitor, utcnow
from platforms import SANDBOXES, load

TOKEN = {"Authorization": "Bearer test-trigger-token"}
SECRET = "shop-signing-secret"
DESTINATIONS = ("google_ads", "ga4", "meta")


@pytest.fixture
def sandboxes() -> Iterator[dict[str, Any]]:
    """The three destinations' sandboxes, running."""
    started = {name: load(SANDBOXES[name])().start() for name in DESTINATIONS}
    yield started
    for sandbox in started.values():
        sandbox.stop()


@pytest.fixture
def revenue_config(sandboxes) -> dict[str, Any]:
    """Config sending to the sandboxes, with a signing secret for the source ``shop``."""
    return {
        "platforms": {name: box.platform_config() for name, box in sandboxes.items()},
        "delivery": {"request_timeout_seconds": 5},
        "schedule": {"enabled": False},
        # Runs only when a test asks for one; tests of the immediate sync turn it on.
        "revenue": {"sources": {"shop": {"secret": SECRET}}, "sync_after_seconds": None},
    }


@pytest.fixture
def revenue_runtime(make_settings, revenue_config) -> Iterator[Runtime]:
    """A migrated runtime on that config."""
    rt = Runtime.from_settings(make_settings(revenue_config))
    yield rt
    rt.close()


@pytest.fixture
def revenue_client(revenue_runtime: Runtime) -> Iterator[Any]:
    """A test client of the app around the runtime."""
    app = create_app(runtime=revenue_runtime)
    app.config["TESTING"] = True
    yield app.test_client()
    app.extensions["closedloop.runs"].wait_idle(30)


@dataclass
class Poster:
    """``post(body)`` with the trigger token; ``signed(body)`` with the shop's signature."""

    client: Any

    def __call__(self, body: Any, headers: dict[str, str] | None = None, **query: str) -> Any:
        return self.client.post(
            "/revenue",
            json=body,
            headers=headers if headers is not None else TOKEN,
            query_string=query,
        )

    def signed(self, body: Any, secret: str = SECRET, source: str = "shop") -> Any:
        raw = json.dumps(body).encode()
        return self.client.post(
            "/revenue",
            data=raw,
            content_type="application/json",
            headers={HEADER: sign(secret, raw)},
            query_string={"source": source},
        )


@pytest.fixture
def post(revenue_client: Any) -> Poster:
    """Post sales to /revenue."""
    return Poster(revenue_client)


@dataclass
class Runner:
    """Runs the revenue step and delivery under the lease, as a scheduled run does."""

    runtime: Runtime
    last: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> str:
        service = RunService(self.runtime, steps=[RevenueStep(), DeliverStep()])
        run_id, status = service.run_now("test")
        run = get_run(self.runtime, run_id)
        assert run is not None
        self.last = {"counts": run.counts, "summary": run.summary, "error": run.error}
        return status


@pytest.fixture
def run(revenue_runtime: Runtime) -> Runner:
    """Call to run one revenue sync and delivery."""
    return Runner(revenue_runtime)


def journey(runtime: Runtime, email: str, *, gclid: str = "G-SHOP-1", days_ago: int = 3) -> str:
    """A tracked person: a visitor with a Google click, a Meta browser ID and a GA client ID."""
    now = utcnow()
    with runtime.sessions.begin() as session:
        person = Person(email_sha256=email_key(email))
        session.add(person)
        session.flush()
        vid = f"visitor-{email.split('@')[0]}"
        session.add(
            Visitor(
                id=vid,
                person_id=person.id,
                first_seen_at=now - timedelta(days=30),
                last_seen_at=now,
                ga_client_id="111.222",
                fbp="fb.1.1700000000000.42",
                consent_ad_user_data=True,
                consent_ad_personalization=True,
            )
        )
        session.flush()  # the visitor first: touchpoints reference it
        at = now - timedelta(days=days_ago)
        tp = Touchpoint(
            visitor_id=vid,
            occurred_at=at,
            url="https://shop.example.com/",
            channel="Paid Search",
            source="google",
            click_ids={"gclid": gclid},
            ga_client_id="111.222",
            ga_session_id="999",
        )
        session.add(tp)
        session.flush()
        session.add(
            ClickId(
                visitor_id=vid, kind="gclid", value=gclid, first_seen_at=at, touchpoint_id=tp.id
            )
        )
    return vid


def sale(order_id: str = "1001", value: Any = "250.00", **extra: Any) -> dict[str, Any]:
    """A sale made yesterday by ann@example.com."""
    at: datetime = utcnow() - timedelta(days=1)
    return {
        "order_id": order_id,
        "value": value,
        "currency": "EUR",
        "time": at.isoformat(),
        "email": "ann@example.com",
        **extra,
    }


def outbox(runtime: Runtime) -> list[Conversion]:
    """Every planned row, in a stable order."""
    with runtime.sessions() as session:
        return list(
            session.scalars(select(Conversion).order_by(Conversion.destination, Conversion.id))
        )
