"""The pull reads HubSpot's answers as JSON (``HubSpotClient.call_json``), not as SDK models.

What must hold: the values are HubSpot's (times to the millisecond, in UTC), faults are still
classified and retried as with SDK models, and a refused request still names its field.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from hubspot.crm.deals import PublicObjectSearchRequest

from connector.config.models import HubSpotSettings
from connector.mapping import MappingProfile
from platforms.crm import ContactWrite
from platforms.hubspot.client import HubSpotApiError
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource
from platforms.sandbox_kit.faults import Fault, FaultPlan


def hubspot_time(value: str | None) -> datetime:
    """A datetime property as the sandbox stores it (ISO 8601 with ``Z``)."""
    assert value
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def test_times_and_values_are_hubspots_own(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Deal and contact times equal the stored properties to the millisecond, UTC-aware."""
    people = [sandbox.add_contact({"email": f"p{i}@example.com"}) for i in range(3)]
    ids = [
        sandbox.add_deal({"dealname": f"d{i}", "amount": f"{i}.50"}, people[: i + 1])
        for i in range(3)
    ]
    deals = [d for page in make_source().deals_changed_since(None) for d in page]
    assert [d.id for d in deals] == ids
    for deal in deals:
        stored = sandbox.deals[deal.id]
        assert deal.modified_time == hubspot_time(stored["hs_lastmodifieddate"])
        assert deal.created_time == hubspot_time(stored["createdate"])
        assert deal.modified_time.tzinfo is UTC and deal.created_time.tzinfo is UTC
        assert deal.amount == stored["amount"]
        for contact in deal.contacts:
            assert contact.created_time == hubspot_time(sandbox.contacts[contact.id]["createdate"])
            assert contact.email == sandbox.contacts[contact.id]["email"]
    assert [c.id for c in deals[2].contacts] == people


def test_faults_mid_pull_are_retried_and_nothing_is_lost(clock, data_clock) -> None:
    """A drop, a lost answer and a 500 across the three kinds of pull request: all retried."""
    plan = FaultPlan(
        script={1: Fault.DROP, 3: Fault.LOST_RESPONSE, 5: Fault.SERVER_ERROR},
        timeout_seconds=1.0,
    )
    with HubSpotSandbox(plan, now=data_clock, monotonic=clock.monotonic) as box:
        person = box.add_contact({"email": "ann@example.com"})
        ids = [box.add_deal({"dealname": f"d{i}"}, [person]) for i in range(5)]
        settings = HubSpotSettings(**box.platform_config())
        source = HubSpotSource(
            settings, MappingProfile(), timeout=0.5, clock=clock.monotonic, sleep=clock.sleep
        )
        deals = [d for page in source.deals_changed_since(None) for d in page]
    assert [d.id for d in deals] == ids
    assert all(d.contacts[0].email == "ann@example.com" for d in deals)
    # search, associations, contact read: 3 requests, plus one retry per fault
    assert source.requests_made == 3 + 3


def test_a_refused_request_names_the_field_and_is_not_retried(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """HubSpot's 400 (a page larger than 200) comes back as HubSpotApiError with its body."""
    source = make_source()
    client = source.client
    with pytest.raises(HubSpotApiError) as caught:
        client.call_json(
            "deal_search",
            client.deals_search.do_search,
            public_object_search_request=PublicObjectSearchRequest(limit=201),
        )
    assert caught.value.status == 400
    assert caught.value.category == "VALIDATION_ERROR"
    assert "limit" in str(caught.value)
    assert client.requests_made == 1


def test_write_back_outcomes_name_the_contacts_hubspot_has(
    roomy_sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Created contacts are matched back by trace ID, found ones by ID or email, from the JSON."""
    known = roomy_sandbox.add_contact({"email": "known@example.com"})
    stored = roomy_sandbox.add_contact({"email": "stored@example.com"})
    writes = [
        ContactWrite(key=1, email="Known@Example.com", phone=None, properties={}),
        ContactWrite(key=2, email="new1@example.com", phone=None, properties={}),
        ContactWrite(key=3, email="new2@example.com", phone=None, properties={}),
        ContactWrite(key=4, email=None, phone=None, properties={}, contact_id=stored),
    ]
    outcomes = make_source(box=roomy_sandbox).upsert_contacts(writes)
    by_email = {p["email"]: cid for cid, p in roomy_sandbox.contacts.items()}
    assert outcomes == {
        1: known,
        2: by_email["new1@example.com"],
        3: by_email["new2@example.com"],
        4: stored,
    }
    assert len(roomy_sandbox.contacts) == 4
