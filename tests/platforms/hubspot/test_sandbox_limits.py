"""The HubSpot sandbox rejects what HubSpot rejects, with HubSpot's error bodies, via the SDK."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import hubspot
import hubspot.crm.associations.v4
import hubspot.crm.contacts
import hubspot.crm.deals
import hubspot.crm.pipelines
import pytest
import urllib3
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectId,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.deals import PublicObjectSearchRequest

from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.sandbox_kit import Fault, FaultPlan

#: Each SDK package raises its own ApiException class.
SDK_ERRORS = (
    hubspot.crm.associations.v4.ApiException,
    hubspot.crm.contacts.ApiException,
    hubspot.crm.deals.ApiException,
    hubspot.crm.pipelines.ApiException,
)


def sdk(sandbox: HubSpotSandbox, token: str | None = None) -> hubspot.HubSpot:
    return hubspot.HubSpot(access_token=token or sandbox.access_token, host=sandbox.url)


def rejection(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of the SDK exception ``call`` raises."""
    with pytest.raises(SDK_ERRORS) as caught:
        call(*args, **kwargs)
    exc = caught.value
    return exc.status, json.loads(exc.body)


def search(sandbox: HubSpotSandbox, **fields: Any) -> Any:
    return sdk(sandbox).crm.deals.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(**fields)
    )


def eq(name: str, value: str) -> dict[str, str]:
    return {"propertyName": name, "operator": "EQ", "value": value}


def test_search_limit_over_200_is_rejected(sandbox: HubSpotSandbox) -> None:
    """A limit of 201 answers 400 VALIDATION_ERROR; 200 is accepted."""
    status, body = rejection(search, sandbox, limit=201)
    assert status == 400
    assert body["status"] == "error" and body["category"] == "VALIDATION_ERROR"
    assert body["correlationId"]
    assert search(sandbox, limit=200).total == 0


def test_more_than_five_filter_groups_are_rejected(sandbox: HubSpotSandbox) -> None:
    """Six filter groups answer 400; five are fine."""
    groups = [{"filters": [eq("dealname", str(i))]} for i in range(6)]
    status, body = rejection(search, sandbox, filter_groups=groups, limit=10)
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    assert "filter groups" in body["message"]
    assert search(sandbox, filter_groups=groups[:5], limit=10).total == 0


def test_more_than_25_filters_in_total_are_rejected(sandbox: HubSpotSandbox) -> None:
    """26 filters across five groups answer 400; 25 are fine."""
    groups = [{"filters": [eq("dealname", f"{g}-{i}") for i in range(5)]} for g in range(5)]
    assert search(sandbox, filter_groups=groups, limit=10).total == 0
    groups[0]["filters"].append(eq("dealname", "one too many"))
    status, body = rejection(search, sandbox, filter_groups=groups, limit=10)
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    assert "filters" in body["message"]


def test_paging_past_10000_results_is_rejected(roomy_sandbox: HubSpotSandbox) -> None:
    """after=9800 with limit 200 still answers; after=10000 is HubSpot's 400."""
    sandbox = roomy_sandbox
    for i in range(10_050):
        sandbox.add_deal({"dealname": f"d{i}"})
    last = search(sandbox, limit=200, after="9800")
    assert len(last.results) == 200 and last.total == 10_050
    assert last.paging.next.after == "10000"
    status, body = rejection(search, sandbox, limit=200, after="10000")
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    status, _ = rejection(search, sandbox, limit=10, after="9995")
    assert status == 400


def test_search_operators_and_sorting(roomy_sandbox: HubSpotSandbox) -> None:
    """EQ/NEQ/GT/GTE/LT/LTE/IN/HAS_PROPERTY/NOT_HAS_PROPERTY and sorts behave like HubSpot."""
    sandbox = roomy_sandbox
    ids = [sandbox.add_deal({"dealname": f"d{i}", "amount": str(i * 10)}) for i in range(5)]
    sandbox.add_deal({"dealname": "no amount"})

    def names(filters: list[dict[str, Any]], direction: str = "ASCENDING") -> list[str]:
        answer = search(
            sandbox,
            filter_groups=[{"filters": filters}],
            sorts=[{"propertyName": "amount", "direction": direction}],
            properties=["dealname"],
            limit=100,
        )
        return [r.properties["dealname"] for r in answer.results]

    assert names([{"propertyName": "amount", "operator": "GT", "value": "20"}]) == ["d3", "d4"]
    assert names([{"propertyName": "amount", "operator": "GTE", "value": "20"}]) == [
        "d2",
        "d3",
        "d4",
    ]
    assert names([{"propertyName": "amount", "operator": "LT", "value": "10"}]) == ["d0"]
    assert names([{"propertyName": "amount", "operator": "LTE", "value": "10"}]) == ["d0", "d1"]
    assert names([eq("dealname", "D2")]) == ["d2"]
    assert names([{"propertyName": "dealname", "operator": "IN", "values": ["d1", "d4"]}]) == [
        "d1",
        "d4",
    ]
    assert names([{"propertyName": "amount", "operator": "NOT_HAS_PROPERTY"}]) == ["no amount"]
    assert len(names([{"propertyName": "amount", "operator": "HAS_PROPERTY"}])) == 5
    assert "d0" not in names([{"propertyName": "amount", "operator": "NEQ", "value": "0"}])
    assert names([{"propertyName": "amount", "operator": "HAS_PROPERTY"}], "DESCENDING")[0] == "d4"
    modified = sandbox.deals[ids[2]]["hs_lastmodifieddate"]
    iso_and_ms = [modified, str(int(_ms(modified)))]
    for value in iso_and_ms:
        later = names([{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": value}])
        assert later == ["d2", "d3", "d4", "no amount"]


def _ms(iso_value: str) -> float:
    from platforms.hubspot.sandbox import to_epoch_ms

    result = to_epoch_ms(iso_value)
    assert result is not None
    return result


def test_bad_or_missing_token_is_401(sandbox: HubSpotSandbox) -> None:
    """A wrong or missing token answers 401 with HubSpot's INVALID_AUTHENTICATION body."""
    bare = urllib3.PoolManager().request("GET", f"{sandbox.url}/crm/v3/pipelines/deals")
    assert bare.status == 401
    assert json.loads(bare.data)["category"] == "INVALID_AUTHENTICATION"
    assert "credentials not found" in json.loads(bare.data)["message"]
    status, body = rejection(
        sdk(sandbox, token="pat-na1-wrong").crm.pipelines.pipelines_api.get_all, "deals"
    )
    assert status == 401
    assert body["status"] == "error"
    assert body["category"] == "INVALID_AUTHENTICATION"
    assert body["correlationId"] and body["message"]


def test_batch_read_over_100_inputs_is_rejected(sandbox: HubSpotSandbox) -> None:
    """101 contact inputs answer 400; 100 are read (missing ones as a 207 error)."""
    batch = sdk(sandbox).crm.contacts.batch_api
    known = sandbox.add_contact({"email": "known@example.com"})
    inputs = [SimplePublicObjectId(id=str(i)) for i in range(1, 100)] + [
        SimplePublicObjectId(id=known)
    ]
    answer = batch.read(BatchReadInputSimplePublicObjectId(inputs=inputs, properties=["email"]))
    assert [r.id for r in answer.results] == [known]
    assert answer.errors[0].category == "OBJECT_NOT_FOUND"
    inputs.append(SimplePublicObjectId(id="101"))
    status, body = rejection(
        batch.read, BatchReadInputSimplePublicObjectId(inputs=inputs, properties=["email"])
    )
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")


def test_batch_read_by_email_id_property(sandbox: HubSpotSandbox) -> None:
    """idProperty=email finds contacts by email, case-insensitively."""
    contact_id = sandbox.add_contact({"email": "Someone@Example.com", "phone": "+15550001"})
    answer = sdk(sandbox).crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id="someone@example.com")],
            id_property="email",
            properties=["phone"],
        )
    )
    assert [(r.id, r.properties["phone"]) for r in answer.results] == [(contact_id, "+15550001")]


def test_contact_batch_update_over_100_is_rejected(sandbox: HubSpotSandbox) -> None:
    """Batch update of 101 contacts answers 400 and changes nothing."""
    from hubspot.crm.contacts import (
        BatchInputSimplePublicObjectBatchInput,
        SimplePublicObjectBatchInput,
    )

    ids = [sandbox.add_contact({"email": f"c{i}@example.com"}) for i in range(101)]
    inputs = [SimplePublicObjectBatchInput(id=i, properties={"phone": "1"}) for i in ids]
    batch = sdk(sandbox).crm.contacts.batch_api
    status, _ = rejection(batch.update, BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    assert status == 400
    assert all(sandbox.contacts[i].get("phone") is None for i in ids)
    batch.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs[:100]))
    assert sandbox.contacts[ids[0]]["phone"] == "1"


def test_associations_batch_over_1000_is_rejected(sandbox: HubSpotSandbox) -> None:
    """The v4 association batch read takes 1,000 IDs, not 1,001; results use the v4 shape."""
    contact = sandbox.add_contact({"email": "a@example.com"})
    deal = sandbox.add_deal({"dealname": "x"}, [contact])
    api = sdk(sandbox).crm.associations.v4.batch_api
    inputs = [PublicFetchAssociationsBatchRequest(id=deal)] + [
        PublicFetchAssociationsBatchRequest(id=str(i)) for i in range(999)
    ]
    answer = api.get_page(
        "deals", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs)
    )
    assert [(r._from.id, [t.to_object_id for t in r.to]) for r in answer.results] == [
        (deal, [contact])
    ]
    assert answer.results[0].to[0].association_types[0].type_id == 3
    inputs.append(PublicFetchAssociationsBatchRequest(id="x"))
    status, _ = rejection(
        api.get_page, "deals", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs)
    )
    assert status == 400


def test_unknown_contact_property_is_400_property_doesnt_exist(sandbox: HubSpotSandbox) -> None:
    """Writing a property that was never created fails like HubSpot: PROPERTY_DOESNT_EXIST."""
    basic = sdk(sandbox).crm.contacts.basic_api
    status, body = rejection(
        basic.create,
        SimplePublicObjectInputForCreate(
            properties={"email": "new@example.com", "closedloop_first_source": "google"}
        ),
    )
    assert (status, body["category"]) == (400, "VALIDATION_ERROR")
    assert "PROPERTY_DOESNT_EXIST" in body["message"]
    assert sandbox.contacts == {}
    existing = sandbox.add_contact({"email": "old@example.com"})
    status, body = rejection(
        basic.update, existing, SimplePublicObjectInput(properties={"nope": "1"})
    )
    assert status == 400 and "PROPERTY_DOESNT_EXIST" in body["message"]


def test_creating_a_contact_with_a_known_email_is_409(sandbox: HubSpotSandbox) -> None:
    """A second contact with the same email is a 409 CONFLICT naming the existing ID."""
    existing = sandbox.add_contact({"email": "dup@example.com"})
    status, body = rejection(
        sdk(sandbox).crm.contacts.basic_api.create,
        SimplePublicObjectInputForCreate(properties={"email": "DUP@example.com"}),
    )
    assert (status, body["category"]) == (409, "CONFLICT")
    assert f"Existing ID: {existing}" in body["message"]


def test_search_over_5_per_second_is_429_secondly(sandbox: HubSpotSandbox, clock) -> None:
    """The sixth search within one second answers 429 SECONDLY; a second later it passes."""
    for _ in range(5):
        search(sandbox, limit=1)
    status, body = rejection(search, sandbox, limit=1)
    assert status == 429
    assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "SECONDLY")
    clock.sleep(1.0)
    assert search(sandbox, limit=1).total == 0


def test_more_than_the_10_second_budget_is_429_ten_secondly(clock, data_clock) -> None:
    """Request 11 of a 10-per-10s token answers 429 TEN_SECONDLY_ROLLING; the window rolls."""
    with HubSpotSandbox(requests_per_10s=10, now=data_clock, monotonic=clock.monotonic) as box:
        pipelines = sdk(box).crm.pipelines.pipelines_api
        for second in range(10):
            if second:
                clock.sleep(1.0)
            pipelines.get_all("deals")
        status, body = rejection(pipelines.get_all, "deals")
        assert status == 429
        assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "TEN_SECONDLY_ROLLING")
        clock.sleep(1.0)  # the first request is now 10 s old and leaves the window
        assert pipelines.get_all("deals").results[0].id == "default"


def test_injected_faults_use_hubspot_bodies(clock, data_clock) -> None:
    """FaultPlan 429 and 5xx answers carry HubSpot's error shapes."""
    plan = FaultPlan(script={1: Fault.RATE_LIMIT, 2: Fault.UNAVAILABLE})
    with HubSpotSandbox(plan, now=data_clock, monotonic=clock.monotonic) as box:
        pipelines = sdk(box).crm.pipelines.pipelines_api
        status, body = rejection(pipelines.get_all, "deals")
        assert (status, body["policyName"]) == (429, "TEN_SECONDLY_ROLLING")
        status, body = rejection(pipelines.get_all, "deals")
        assert status == 503 and body["status"] == "error" and body["correlationId"]
        assert pipelines.get_all("deals").results


def test_closed_flags_follow_the_stage_and_modified_time_bumps(sandbox: HubSpotSandbox) -> None:
    """hs_is_closed_won/hs_is_closed derive from the stage; every change bumps the time."""
    deal = sandbox.add_deal({"dealname": "x", "dealstage": "contractsent"})
    before = sandbox.deals[deal]["hs_lastmodifieddate"]
    assert (sandbox.deals[deal]["hs_is_closed"], sandbox.deals[deal]["hs_is_closed_won"]) == (
        "false",
        "false",
    )
    sandbox.update_deal(deal, dealstage="closedwon")
    assert sandbox.deals[deal]["hs_is_closed_won"] == "true"
    assert sandbox.deals[deal]["hs_lastmodifieddate"] > before
    sandbox.update_deal(deal, dealstage="closedlost")
    assert (sandbox.deals[deal]["hs_is_closed"], sandbox.deals[deal]["hs_is_closed_won"]) == (
        "true",
        "false",
    )


def test_contact_search_by_email_follows_email_changes(roomy_sandbox: HubSpotSandbox) -> None:
    """After an email change, search finds the new address and not the old one."""
    from hubspot.crm.contacts import PublicObjectSearchRequest as ContactSearch

    sandbox = roomy_sandbox
    contact = sandbox.add_contact({"email": "old@example.com"})
    api = sdk(sandbox).crm.contacts
    api.basic_api.update(contact, SimplePublicObjectInput(properties={"email": "new@example.com"}))

    def found(email: str) -> list[str]:
        request = ContactSearch(filter_groups=[{"filters": [eq("email", email)]}], limit=1)
        return [
            r.id for r in api.search_api.do_search(public_object_search_request=request).results
        ]

    assert found("NEW@example.com") == [contact]
    assert found("old@example.com") == []
    status, _ = rejection(
        api.basic_api.create,
        SimplePublicObjectInputForCreate(properties={"email": "new@example.com"}),
    )
    assert status == 409


def test_past_the_daily_budget_every_call_is_429_daily_until_midnight(clock, data_clock) -> None:
    """A private app's daily budget: 429 DAILY for any endpoint, a fresh budget the next day."""
    with HubSpotSandbox(requests_per_day=3, now=data_clock, monotonic=clock.monotonic) as box:
        pipelines = sdk(box).crm.pipelines.pipelines_api
        for _ in range(3):
            clock.sleep(1.0)
            pipelines.get_all("deals")
        for call in (lambda: pipelines.get_all("deals"), lambda: search(box, limit=1)):
            status, body = rejection(call)
            assert status == 429
            assert (body["errorType"], body["policyName"]) == ("RATE_LIMIT", "DAILY")
        assert box.daily_refused == 2
        data_clock.current = data_clock.current.replace(hour=0) + timedelta(days=1)
        assert pipelines.get_all("deals").results[0].id == "default"
