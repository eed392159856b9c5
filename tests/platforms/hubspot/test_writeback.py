"""Touch write-back: properties are created once, contacts found by email, created or updated."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from connector.errors import PermanentSourceError
from connector.mapping import MappingProfile
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource

WRITEBACK = {
    "first_touch_source": "closedloop_first_source",
    "last_touch_source": "closedloop_last_source",
    "gclid": "hs_google_click_id",
    "visitor_id": "closedloop_visitor_id",
}


def test_ensure_creates_the_group_and_missing_properties_once(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Group and the three custom properties are created; HubSpot's own gclid is left alone."""
    source = make_source()
    source.ensure_contact_properties(WRITEBACK, "closedloop")
    created = [a for a in sandbox.accepted if a["op"] == "property.create"]
    assert sorted(a["name"] for a in created) == [
        "closedloop_first_source",
        "closedloop_last_source",
        "closedloop_visitor_id",
    ]
    assert all(a["type"] == "string" and a["group"] == "closedloop" for a in created)
    assert [a["name"] for a in sandbox.accepted if a["op"] == "group.create"] == ["closedloop"]
    # list properties, list groups, create group, create 3 properties
    assert source.requests_made == 6
    source.ensure_contact_properties(WRITEBACK, "closedloop")
    assert source.requests_made == 6
    again = make_source()
    again.ensure_contact_properties(WRITEBACK, "closedloop")
    assert again.requests_made == 1  # one look at the property list, nothing to create


def test_writing_before_the_properties_exist_fails_permanently(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Without ensure_contact_properties HubSpot refuses the write; the error says why."""
    with pytest.raises(PermanentSourceError, match="PROPERTY_DOESNT_EXIST"):
        make_source().upsert_contact("new@example.com", None, {"closedloop_first_source": "x"})
    assert sandbox.contacts == {}


def test_upsert_creates_a_missing_contact(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """An unknown email becomes a new contact with email, phone and the touch properties."""
    source = make_source()
    source.ensure_contact_properties(WRITEBACK, "closedloop")
    before = source.requests_made
    contact_id = source.upsert_contact(
        "lead@example.com", "+15551230000", {"closedloop_first_source": "google"}
    )
    assert sandbox.contacts[contact_id]["email"] == "lead@example.com"
    assert sandbox.contacts[contact_id]["phone"] == "+15551230000"
    assert sandbox.contacts[contact_id]["closedloop_first_source"] == "google"
    assert source.requests_made - before == 2  # search by email, create


def test_upsert_updates_the_contact_found_by_email(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """A known email (any case) is updated in place; its phone is not overwritten."""
    existing = sandbox.add_contact({"email": "Known@Example.com", "phone": "+15550000000"})
    source = make_source()
    source.ensure_contact_properties(WRITEBACK, "closedloop")
    before = source.requests_made
    contact_id = source.upsert_contact(
        "known@example.com", "+15559999999", {"closedloop_last_source": "meta"}
    )
    assert contact_id == existing
    assert len(sandbox.contacts) == 1
    assert sandbox.contacts[existing]["closedloop_last_source"] == "meta"
    assert sandbox.contacts[existing]["phone"] == "+15550000000"
    assert source.requests_made - before == 2  # search by email, update
    assert sandbox.requests_by_endpoint["PATCH /crm/v3/objects/contacts/{id}"] == 1


def test_upsert_survives_search_lag_via_the_409(
    clock, data_clock, make_source: Callable[..., HubSpotSource]
) -> None:
    """A contact too new for the search index is found through HubSpot's 409 'Existing ID'."""
    with HubSpotSandbox(
        now=data_clock, monotonic=clock.monotonic, search_lag=timedelta(seconds=5)
    ) as box:
        fresh = box.add_contact({"email": "fresh@example.com"})
        source = make_source(box=box)
        source.ensure_contact_properties(WRITEBACK, "closedloop")
        contact_id = source.upsert_contact(
            "fresh@example.com", None, {"closedloop_visitor_id": "v-1"}
        )
        assert contact_id == fresh
        assert len(box.contacts) == 1
        assert box.contacts[fresh]["closedloop_visitor_id"] == "v-1"


def test_profile_names_the_email_property(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """The lookup uses the profile's email property, not a hard-coded 'email'."""
    sandbox.add_contact_property("work_email")
    existing = sandbox.add_contact({"email": "home@example.com", "work_email": "w@example.com"})
    profile = MappingProfile.model_validate({"contact": {"email": "work_email"}})
    source = make_source(profile)
    assert source.upsert_contact("w@example.com", None, {"phone": "+1555"}) == existing
