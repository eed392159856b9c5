"""Re-running the whole sync (HubSpot sandbox → match → plan → outbox) doubles nothing.

The bundled mapping profile decides what a closed-won deal becomes for the destination, so a
registered destination the profile does not name fails here: add its event entry under
``platforms:`` in ``mappings/hubspot.yaml``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from connector.outbox import deliver_due
from connector.outbox.summary import PlatformSummary
from connector.runtime import Runtime
from connector.storage.models import Conversion, utcnow
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.sandbox_kit import FaultPlan
from tests.contract.conftest import contract_config
from tests.contract.kit import USER_AGENT, World, click_value
from tests.sync.conftest import FakeClock, Seeder, Syncer, won_deal

DEALS = 3


@pytest.fixture
def crm() -> Iterator[tuple[HubSpotSandbox, FakeClock]]:
    """The HubSpot sandbox on a clock that starts now and only moves when told."""
    clock = FakeClock(wall=utcnow())
    sandbox = HubSpotSandbox(FaultPlan(), now=clock.now, monotonic=clock.monotonic)
    with sandbox.start():
        yield sandbox, clock


def _keys(runtime: Runtime) -> list[str]:
    with runtime.sessions() as session:
        return sorted(session.scalars(select(Conversion.dedup_key)))


def test_a_second_and_third_sync_plan_the_same_keys_and_nothing_is_sent_twice(
    world: World, crm, make_settings
):
    """Three syncs of the same won deals: one row each, the same keys, each kept once."""
    hubspot, clock = crm
    settings = make_settings(
        {
            "platforms": {
                "hubspot": hubspot.platform_config(),
                world.name: contract_config(world.sandbox),
            }
        }
    )
    runtime = Runtime.from_settings(settings)
    try:
        seed = Seeder(runtime)
        close = utcnow() - timedelta(days=1)
        kinds = world.cls.click_kinds[:1]
        for i in range(DEALS):
            email = f"resync{i}@example.com"
            visitor = seed.visitor(
                seed.person(email),
                ga_client_id=f"{2000 + i}.1700000000",
                ga_session_id="1700000000",
                fbp=f"fb.1.1700000000000.{2000 + i}",
                user_agent=USER_AGENT,
                consent_ad_user_data=True,
                consent_ad_personalization=True,
            )
            at = close - timedelta(hours=1)
            click = (kinds[0], click_value(kinds[0], 2000 + i)) if kinds else None
            if click is not None:
                world.sandbox.know_click(click[0], click[1], at)
            seed.touch(
                visitor,
                at,
                click=click,
                ga_client_id=f"{2000 + i}.1700000000",
                ga_session_id="1700000000",
                fbp=f"fb.1.1700000000000.{2000 + i}",
                consent_ad_user_data=True,
                consent_ad_personalization=True,
            )
            contact = hubspot.add_contact({"email": email})
            won_deal(hubspot, [contact], close=close)
        sync = Syncer(runtime, clock)
        sync()
        first = _keys(runtime)
        not_planned = sync.last["summary"]["sync"]["not_planned"].get(world.name)
        assert len(first) == DEALS, (
            f"{world.name}: the sync planned {first}; not planned: {not_planned} (is it "
            "named under platforms: in mappings/hubspot.yaml?)"
        )
        summary = _deliver(runtime, world)
        assert summary.error is None, summary.as_dict()
        clock.advance(minutes=5)
        sync()
        assert _keys(runtime) == first
        requests = world.sandbox.requests
        _deliver(runtime, world)
        assert world.sandbox.requests == requests
        clock.advance(hours=1)
        sync()
        assert _keys(runtime) == first
        assert Counter(world.kept()) == Counter(first)
    finally:
        runtime.close()


def _deliver(runtime: Runtime, world: World) -> PlatformSummary:
    return deliver_due(runtime, only=[world.name]).platforms[world.name]
