"""The sandbox's contact batch endpoints behave like HubSpot's, driven through the SDK."""

from __future__ import annotations

import json
from typing import Any

import hubspot
import pytest
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectId,
)

from platforms.hubspot.sandbox import HubSpotSandbox


def _batch(sandbox: HubSpotSandbox) -> Any:
    return hubspot.HubSpot(
        access_token=sandbox.access_token, host=sandbox.url
    ).crm.contacts.batch_api


def _refused(call: Any, *args: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call(*args)
    return caught.value.status, json.loads(caught.value.body)


def _read(emails: list[str], id_property: str = "email") -> BatchReadInputSimplePublicObjectId:
    return BatchReadInputSimplePublicObjectId(
        id_property=id_property,
        inputs=[SimplePublicObjectId(id=e) for e in emails],
        properties=["email", "firstname"],
    )


def _create(*emails: str) -> BatchInputSimplePublicObjectBatchInputForCreate:
    return BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectBatchInputForCreate(
                properties={"email": e}, associations=[], object_write_trace_id=f"t{n}"
            )
            for n, e in enumerate(emails)
        ]
    )


def test_batch_read_by_email_reports_missing_ones_with_207(roomy_sandbox: HubSpotSandbox) -> None:
    """Found contacts come back (any case of the email); missing emails are named in errors."""
    jane = roomy_sandbox.add_contact({"email": "Jane@Example.com", "firstname": "Jane"})
    answer = _batch(roomy_sandbox).read(_read(["jane@example.com", "nobody@example.com"]))
    assert [(r.id, r.properties["email"]) for r in answer.results] == [(jane, "Jane@Example.com")]
    assert answer.num_errors == 1
    [error] = answer.errors
    assert error.category == "OBJECT_NOT_FOUND"
    assert error.context == {"ids": ["nobody@example.com"]}


def test_batch_read_all_found_has_no_errors(roomy_sandbox: HubSpotSandbox) -> None:
    """When every email exists the answer is a plain 200 without an errors list."""
    roomy_sandbox.add_contact({"email": "a@example.com"})
    answer = _batch(roomy_sandbox).read(_read(["a@example.com"]))
    assert len(answer.results) == 1
    assert not getattr(answer, "errors", None)


def test_batch_read_needs_a_unique_id_property(roomy_sandbox: HubSpotSandbox) -> None:
    """Looking up by a property without unique values is a 400, as on HubSpot."""
    status, body = _refused(_batch(roomy_sandbox).read, _read(["Jane"], id_property="firstname"))
    assert status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "unique" in body["message"]


def test_batch_read_over_100_inputs_is_refused(roomy_sandbox: HubSpotSandbox) -> None:
    """101 inputs exceed the batch maximum."""
    status, body = _refused(
        _batch(roomy_sandbox).read, _read([f"c{n}@example.com" for n in range(101)])
    )
    assert status == 400 and "maximum of 100" in body["message"]


def test_batch_create_answers_201_with_trace_ids(roomy_sandbox: HubSpotSandbox) -> None:
    """Every input is created; results carry the caller's objectWriteTraceId."""
    answer = _batch(roomy_sandbox).create(_create("a@example.com", "b@example.com"))
    traced = {r.object_write_trace_id: r.id for r in answer.results}
    assert set(traced) == {"t0", "t1"}
    assert roomy_sandbox.contacts[traced["t1"]]["email"] == "b@example.com"


def test_batch_create_with_an_existing_email_creates_nothing(
    roomy_sandbox: HubSpotSandbox,
) -> None:
    """One existing email fails the whole batch with 409 naming the existing contact."""
    existing = roomy_sandbox.add_contact({"email": "taken@example.com"})
    status, body = _refused(
        _batch(roomy_sandbox).create, _create("new@example.com", "Taken@example.com")
    )
    assert status == 409 and body["category"] == "CONFLICT"
    assert f"Existing ID: {existing}" in body["message"]
    assert list(roomy_sandbox.contacts) == [existing]


def test_batch_create_refuses_duplicate_emails(roomy_sandbox: HubSpotSandbox) -> None:
    """The same email twice in one batch is a validation error; nothing is created."""
    status, body = _refused(_batch(roomy_sandbox).create, _create("x@example.com", "X@example.com"))
    assert status == 400 and "Duplicate" in body["message"]
    assert roomy_sandbox.contacts == {}


def test_batch_update_refuses_duplicate_ids(roomy_sandbox: HubSpotSandbox) -> None:
    """One ID twice in a batch update is refused as a whole."""
    contact = roomy_sandbox.add_contact({"email": "u@example.com"})
    inputs = [
        SimplePublicObjectBatchInput(id=contact, properties={"firstname": name})
        for name in ("A", "B")
    ]
    status, body = _refused(
        _batch(roomy_sandbox).update, BatchInputSimplePublicObjectBatchInput(inputs=inputs)
    )
    assert status == 400 and "Duplicate IDs" in body["message"]
    assert roomy_sandbox.contacts[contact].get("firstname") is None


def test_batch_create_with_an_unknown_lifecycle_stage_creates_nothing(
    roomy_sandbox: HubSpotSandbox,
) -> None:
    """An invalid option in the last input fails the batch before the first is created."""
    batch = BatchInputSimplePublicObjectBatchInputForCreate(
        inputs=[
            SimplePublicObjectBatchInputForCreate(properties=props, associations=[])
            for props in (
                {"email": "ok@example.com", "lifecyclestage": "lead"},
                {"email": "bad@example.com", "lifecyclestage": "superfan"},
            )
        ]
    )
    status, body = _refused(_batch(roomy_sandbox).create, batch)
    assert status == 400 and "superfan" in body["message"]
    assert roomy_sandbox.contacts == {}
