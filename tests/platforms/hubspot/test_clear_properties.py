"""Erasing the write-back: closedloop's properties are emptied on the person's contacts.

HubSpot documents that a property is cleared by writing an empty string to it; the contact
itself, and properties closedloop never wrote, stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.errors import PermanentSourceError
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.hubspot.source import HubSpotSource

WRITEBACK = {
    "first_touch_source": "closedloop_first_source",
    "gclid": "hs_google_click_id",
    "visitor_id": "closedloop_visitor_id",
}
NAMES = sorted(WRITEBACK.values())


def _written(sandbox: HubSpotSandbox, source: HubSpotSource, email: str) -> str:
    source.ensure_contact_properties(WRITEBACK, "closedloop")
    return source.upsert_contact(
        email,
        None,
        {
            "closedloop_first_source": "google",
            "hs_google_click_id": f"gclid-of-{email}",
            "closedloop_visitor_id": f"visitor-of-{email}",
        },
    )


def test_clears_the_written_properties_and_nothing_else(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Jane's three properties become empty; her email stays; Olga's contact is untouched."""
    source = make_source()
    jane = _written(sandbox, source, "jane@example.com")
    olga = _written(sandbox, source, "olga@example.com")
    before = source.requests_made
    assert source.clear_contact_properties([jane], [*NAMES, "never_created_here"]) == 1
    assert source.requests_made - before == 3  # properties list, batch read, batch update
    assert all(sandbox.contacts[jane][name] == "" for name in NAMES)
    assert sandbox.contacts[jane]["email"] == "jane@example.com"
    assert sandbox.contacts[olga]["hs_google_click_id"] == "gclid-of-olga@example.com"
    again = make_source().clear_contact_properties([jane], NAMES)
    assert again == 1 and all(sandbox.contacts[jane][name] == "" for name in NAMES)


def test_a_contact_deleted_in_hubspot_is_skipped(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """A contact HubSpot no longer has has nothing left to clear: no error, not counted."""
    source = make_source()
    jane = _written(sandbox, source, "jane@example.com")
    olga = _written(sandbox, source, "olga@example.com")
    source.client.contacts_basic.archive(olga)
    assert source.clear_contact_properties([jane, olga], NAMES) == 1
    assert sandbox.contacts[jane]["closedloop_visitor_id"] == ""


def test_properties_never_created_mean_nothing_to_clear(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Before any write-back HubSpot has none of the custom properties: one look, done."""
    contact = sandbox.add_contact({"email": "jane@example.com"})
    source = make_source()
    assert source.clear_contact_properties([contact], ["closedloop_visitor_id"]) == 0
    assert source.requests_made == 1


def test_a_refused_token_raises(
    sandbox: HubSpotSandbox, make_source: Callable[..., HubSpotSource]
) -> None:
    """Failures are raised (and retried by the caller), never reported as cleared."""
    with pytest.raises(PermanentSourceError):
        make_source(access_token="wrong-token").clear_contact_properties(["1"], NAMES)
