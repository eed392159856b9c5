"""The sandbox applies HubSpot's lifecycle stage rules, seen through the unmodified SDK.

Stages only move forward unless cleared first; entering a stage stamps its date-entered
property; every change bumps ``lastmodifieddate``, which contact search filters and sorts on.
"""

from __future__ import annotations

import json
from typing import Any

import hubspot
import hubspot.crm.contacts
import pytest
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)

from platforms.hubspot.sandbox import HubSpotSandbox

MQL_DATE = "hs_lifecyclestage_marketingqualifiedlead_date"
SQL_DATE = "hs_lifecyclestage_salesqualifiedlead_date"
LEAD_DATE = "hs_lifecyclestage_lead_date"
PROPS = ["email", "lifecyclestage", LEAD_DATE, MQL_DATE, SQL_DATE, "lastmodifieddate"]


@pytest.fixture
def box(roomy_sandbox: HubSpotSandbox) -> HubSpotSandbox:
    """The raw SDK does not throttle itself, so these tests use a sandbox without limits."""
    return roomy_sandbox


def contacts(sandbox: HubSpotSandbox) -> Any:
    return hubspot.HubSpot(access_token=sandbox.access_token, host=sandbox.url).crm.contacts


def create(sandbox: HubSpotSandbox, **properties: str) -> str:
    made = contacts(sandbox).basic_api.create(
        simple_public_object_input_for_create=SimplePublicObjectInputForCreate(
            properties=properties
        )
    )
    return str(made.id)


def patch(sandbox: HubSpotSandbox, contact_id: str, **properties: str) -> None:
    contacts(sandbox).basic_api.update(
        contact_id, simple_public_object_input=SimplePublicObjectInput(properties=properties)
    )


def read(sandbox: HubSpotSandbox, contact_id: str, properties: list[str] = PROPS) -> dict[str, Any]:
    answer = contacts(sandbox).batch_api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=contact_id)],
            properties=properties,
            properties_with_history=[],
        )
    )
    return answer.results[0].properties


def test_entering_a_stage_stamps_its_date_and_the_modification_time(box) -> None:
    """Lead at creation, then MQL, then SQL: each date is the time of its own change."""
    cid = create(box, email="a@example.com", lifecyclestage="lead")
    created = read(box, cid)
    assert created[LEAD_DATE] == created["createdate"]
    assert created[MQL_DATE] is None and created[SQL_DATE] is None

    patch(box, cid, lifecyclestage="marketingqualifiedlead")
    mql = read(box, cid)
    assert mql["lifecyclestage"] == "marketingqualifiedlead"
    assert mql[MQL_DATE] == mql["lastmodifieddate"] > created["lastmodifieddate"]
    assert mql[LEAD_DATE] == created[LEAD_DATE]

    patch(box, cid, lifecyclestage="salesqualifiedlead")
    sql = read(box, cid)
    assert sql[SQL_DATE] == sql["lastmodifieddate"] > mql[MQL_DATE]
    assert sql[MQL_DATE] == mql[MQL_DATE]  # entering SQL leaves the MQL time alone


def test_a_write_that_does_not_change_the_stage_keeps_its_date(box) -> None:
    cid = create(box, email="b@example.com", lifecyclestage="marketingqualifiedlead")
    first = read(box, cid)[MQL_DATE]
    patch(box, cid, lifecyclestage="marketingqualifiedlead", firstname="Bea")
    after = read(box, cid)
    assert after[MQL_DATE] == first
    assert after["lastmodifieddate"] > first


def test_a_skipped_stage_gets_no_date(box) -> None:
    cid = create(box, email="c@example.com", lifecyclestage="lead")
    patch(box, cid, lifecyclestage="salesqualifiedlead")
    props = read(box, cid)
    assert props[SQL_DATE] is not None
    assert props[MQL_DATE] is None


def test_moving_backward_is_accepted_but_ignored_until_the_stage_is_cleared(box) -> None:
    """HubSpot: "not designed to move backwards"; clear it ("") first, then set it."""
    cid = create(box, email="d@example.com", lifecyclestage="salesqualifiedlead")
    before = read(box, cid)
    patch(box, cid, lifecyclestage="lead")  # 200, no error
    ignored = read(box, cid)
    assert ignored["lifecyclestage"] == "salesqualifiedlead"
    assert ignored[LEAD_DATE] is None

    patch(box, cid, lifecyclestage="")
    assert read(box, cid)["lifecyclestage"] in (None, "")
    patch(box, cid, lifecyclestage="lead")
    moved = read(box, cid)
    assert moved["lifecyclestage"] == "lead"
    assert moved[LEAD_DATE] == moved["lastmodifieddate"]
    assert moved[SQL_DATE] == before[SQL_DATE]  # history stays


def test_an_unknown_stage_is_a_validation_error(box) -> None:
    cid = create(box, email="e@example.com")
    with pytest.raises(hubspot.crm.contacts.ApiException) as caught:
        patch(box, cid, lifecyclestage="hotlead")
    assert caught.value.status == 400
    body = json.loads(caught.value.body)
    assert body["category"] == "VALIDATION_ERROR"
    assert body["errors"][0]["code"] == "INVALID_OPTION"
    assert read(box, cid)["lifecyclestage"] is None


def test_a_date_written_with_the_stage_wins_over_the_stamp(box) -> None:
    """Imports carry their own history: the written date-entered value is kept."""
    cid = create(
        box,
        email="f@example.com",
        lifecyclestage="marketingqualifiedlead",
        **{MQL_DATE: "2025-01-02T03:04:05.000Z"},
    )
    assert read(box, cid)[MQL_DATE] == "2025-01-02T03:04:05.000Z"


def test_batch_updates_follow_the_same_rules(box) -> None:
    one = create(box, email="g@example.com", lifecyclestage="lead")
    two = create(box, email="h@example.com", lifecyclestage="customer")
    contacts(box).batch_api.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(
                    id=one, properties={"lifecyclestage": "marketingqualifiedlead"}
                ),
                SimplePublicObjectBatchInput(
                    id=two, properties={"lifecyclestage": "marketingqualifiedlead"}
                ),
            ]
        )
    )
    assert read(box, one)[MQL_DATE] is not None
    assert read(box, two)["lifecyclestage"] == "customer"
    assert read(box, two)[MQL_DATE] is None


def test_custom_stages_take_their_place_in_the_order(box) -> None:
    prop = box.add_lifecycle_stage("demobooked", before="salesqualifiedlead")
    assert prop == "hs_v2_date_entered_demobooked"
    cid = create(box, email="i@example.com", lifecyclestage="marketingqualifiedlead")
    patch(box, cid, lifecyclestage="demobooked")
    stamped = read(box, cid, [prop, "lastmodifieddate"])
    assert stamped[prop] == stamped["lastmodifieddate"]
    patch(box, cid, lifecyclestage="marketingqualifiedlead")  # backward: ignored
    assert read(box, cid)["lifecyclestage"] == "demobooked"
    patch(box, cid, lifecyclestage="salesqualifiedlead")  # forward
    assert read(box, cid)["lifecyclestage"] == "salesqualifiedlead"


def test_seeding_helper_applies_the_rules_and_bumps_the_modification_time(box) -> None:
    cid = box.add_contact({"email": "j@example.com", "lifecyclestage": "lead"})
    before = dict(box.contacts[cid])
    box.update_contact(cid, lifecyclestage="marketingqualifiedlead")
    after = box.contacts[cid]
    assert after[MQL_DATE] == after["lastmodifieddate"] > before["lastmodifieddate"]
    box.update_contact(cid, lifecyclestage="lead")
    assert box.contacts[cid]["lifecyclestage"] == "marketingqualifiedlead"
    with pytest.raises(ValueError):
        box.update_contact(cid, email="other@example.com")


def test_search_filters_and_sorts_on_lastmodifieddate(box, data_clock) -> None:
    """What the lifecycle pull relies on: GTE on lastmodifieddate, ascending, properties."""
    old = create(box, email="old@example.com", lifecyclestage="lead")
    cutoff = box.contacts[old]["lastmodifieddate"]
    newer = create(box, email="new@example.com", lifecyclestage="lead")
    patch(box, old, lifecyclestage="marketingqualifiedlead")  # now the most recent change
    answer = contacts(box).search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GT", "value": cutoff}
                    ]
                }
            ],
            sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            properties=PROPS,
            limit=200,
        )
    )
    assert [r.id for r in answer.results] == [newer, old]
    assert (
        answer.results[1].properties[MQL_DATE] == answer.results[1].properties["lastmodifieddate"]
    )
    assert answer.results[0].properties[MQL_DATE] is None
