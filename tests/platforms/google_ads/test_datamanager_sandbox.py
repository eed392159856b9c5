"""The Data Manager sandbox, driven through the unmodified SDK: Google's limits and errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from google.ads import datamanager_v1 as dm
from google.api_core import exceptions
from google.rpc import error_details_pb2

from platforms.google_ads.sandbox import ADWORDS_SCOPE
from platforms.sandbox_kit.faults import Fault, FaultPlan

from .conftest import EMAIL_HASH, NOW, PHONE_HASH

Reason = dm.ProcessingErrorReason
Status = dm.RequestStatusPerDestination.RequestStatus


def ingest(client: dm.IngestionServiceClient, request: dm.IngestEventsRequest):
    """One call, without the SDK's own retries (the outbox owns retrying)."""
    return client.ingest_events(request=request, retry=None, timeout=10)


def status_of(client: dm.IngestionServiceClient, request_id: str):
    """RetrieveRequestStatus for one request."""
    return client.retrieve_request_status(
        request=dm.RetrieveRequestStatusRequest(request_id=request_id), retry=None, timeout=10
    )


def violations(exc: exceptions.GoogleAPICallError) -> list[tuple[str, str]]:
    """(field, reason) of every BadRequest field violation in Google's error details."""
    return [
        (v.field, v.reason)
        for d in exc.details
        if isinstance(d, error_details_pb2.BadRequest)
        for v in d.field_violations
    ]


def email(value: str = EMAIL_HASH) -> dm.UserIdentifier:
    return dm.UserIdentifier(email_address=value)


def users(*identifiers: dm.UserIdentifier) -> dm.UserData:
    return dm.UserData(user_identifiers=list(identifiers))


INVALID_EVENTS: dict[str, tuple[dict[str, Any], str, str]] = {
    "no timestamp": ({"event_timestamp": None}, ".event_timestamp", "REQUIRED_FIELD_MISSING"),
    "future timestamp": (
        {"event_timestamp": NOW + timedelta(hours=1)},
        ".event_timestamp",
        "EVENT_TIME_INVALID",
    ),
    "gbraid and wbraid": (
        {"ad_identifiers": dm.AdIdentifiers(gbraid="gb-1", wbraid="wb-1")},
        ".ad_identifiers",
        "INVALID_EVENT",
    ),
    "gclid and gbraid": (
        {"ad_identifiers": dm.AdIdentifiers(gclid="g-1", gbraid="gb-1")},
        ".ad_identifiers",
        "INVALID_EVENT",
    ),
    "braid with user data": (
        {"ad_identifiers": dm.AdIdentifiers(wbraid="wb-1"), "user_data": users(email())},
        ".user_data",
        "INVALID_EVENT",
    ),
    "no identifiers": ({"ad_identifiers": None}, "", "NO_IDENTIFIERS_PROVIDED"),
    "eleven identifiers": (
        {"user_data": users(*[email()] * 11)},
        ".user_data.user_identifiers",
        "TOO_MANY_USER_IDENTIFIERS",
    ),
    "uppercase hash": (
        {"ad_identifiers": None, "user_data": users(email(EMAIL_HASH.upper()))},
        ".user_data.user_identifiers[0].email_address",
        "INVALID_SHA256_FORMAT",
    ),
    "plain email": (
        {"ad_identifiers": None, "user_data": users(email("buyer@example.com"))},
        ".user_data.user_identifiers[0].email_address",
        "INVALID_HEX_ENCODING",
    ),
    "short phone hash": (
        {"ad_identifiers": None, "user_data": users(dm.UserIdentifier(phone_number="ab12"))},
        ".user_data.user_identifiers[0].phone_number",
        "INVALID_SHA256_FORMAT",
    ),
    "bad currency": ({"currency": "US$"}, ".currency", "INVALID_CURRENCY_CODE"),
    "unknown consent value": (
        {"consent": dm.Consent(ad_user_data=7)},
        ".consent.ad_user_data",
        "INVALID_ENUM_VALUE",
    ),
    "unknown destination reference": (
        {"destination_references": ["nope"]},
        ".destination_references",
        "INVALID_DESTINATION",
    ),
}


@pytest.mark.parametrize("case", INVALID_EVENTS, ids=list(INVALID_EVENTS))
def test_invalid_event_fails_the_whole_request_naming_it(
    case, sandbox, dm_client, make_event, make_request
):
    """Each documented event violation fails the request with Google's reason at events[1]."""
    fields, suffix, reason = INVALID_EVENTS[case]
    request = make_request([make_event(), make_event(**fields), make_event()])
    with pytest.raises(exceptions.InvalidArgument) as caught:
        ingest(dm_client, request)
    assert (f"events[1]{suffix}", reason) in violations(caught.value)
    assert caught.value.reason == reason
    assert caught.value.domain == "datamanager.googleapis.com"
    assert sandbox.accepted == []


def test_valid_events_are_kept_and_status_reports_them(
    sandbox, dm_client, make_event, make_request
):
    """A valid request gets a request_id; RetrieveRequestStatus reports SUCCESS and the count."""
    events = [
        make_event(),
        make_event(
            ad_identifiers=None,
            user_data=users(email(), dm.UserIdentifier(phone_number=PHONE_HASH)),
        ),
        make_event(ad_identifiers=dm.AdIdentifiers(gbraid="gb-7")),
    ]
    response = ingest(dm_client, make_request(events))
    assert response.request_id
    assert [a["transaction_id"] for a in sandbox.accepted] == ["tx-1", "tx-2", "tx-3"]
    assert sandbox.accepted[2]["gbraid"] == "gb-7" and sandbox.accepted[2]["gclid"] is None
    assert sandbox.accepted[0]["event_time"] == NOW - timedelta(days=1)
    (entry,) = status_of(dm_client, response.request_id).request_status_per_destination
    assert entry.request_status == Status.SUCCESS
    assert entry.events_ingestion_status.record_count == 3
    assert entry.destination.product_destination_id == sandbox.conversion_action_id


def test_two_thousand_events_fit_one_request(sandbox, dm_client, make_event, make_request):
    """2,000 events is the documented maximum and is accepted in one request."""
    ingest(dm_client, make_request([make_event() for _ in range(2000)]))
    assert len(sandbox.accepted) == 2000
    assert sandbox.datamanager.calls["IngestEvents"] == 1


def test_two_thousand_and_one_events_are_refused(sandbox, dm_client, make_event, make_request):
    """2,001 events fail with TOO_MANY_EVENTS and nothing is kept."""
    with pytest.raises(exceptions.InvalidArgument) as caught:
        ingest(dm_client, make_request([make_event() for _ in range(2001)]))
    assert caught.value.reason == "TOO_MANY_EVENTS"
    assert sandbox.accepted == []


def test_more_than_ten_destinations_are_refused(
    sandbox, dm_client, make_event, make_request, make_destination_pb
):
    """At most 10 destinations per request."""
    destinations = [make_destination_pb(reference=f"r{i}") for i in range(11)]
    with pytest.raises(exceptions.InvalidArgument) as caught:
        ingest(dm_client, make_request([make_event()], destinations=destinations))
    assert caught.value.reason == "TOO_MANY_DESTINATIONS"


def test_unknown_conversion_action_is_refused(
    dm_client, make_event, make_request, make_destination_pb
):
    """product_destination_id must be an existing conversion action of the account."""
    request = make_request([make_event()], destinations=[make_destination_pb(action_id="42")])
    with pytest.raises(exceptions.InvalidArgument) as caught:
        ingest(dm_client, request)
    assert violations(caught.value) == [
        ("destinations[0].product_destination_id", "INVALID_CONVERSION_ACTION_ID")
    ]


def test_unknown_account_is_permission_denied(
    dm_client, make_event, make_request, make_destination_pb
):
    """An operating account the user cannot access answers PERMISSION_DENIED."""
    request = make_request([make_event()], destinations=[make_destination_pb(account_id="999")])
    with pytest.raises(exceptions.PermissionDenied) as caught:
        ingest(dm_client, request)
    assert caught.value.reason == "PERMISSION_DENIED"


def test_non_google_ads_account_is_refused(dm_client, make_event, make_request, sandbox):
    """The operating account must be a GOOGLE_ADS account."""
    bad = dm.Destination(
        operating_account=dm.ProductAccount(
            account_id=sandbox.customer_id,
            account_type=dm.ProductAccount.AccountType.GOOGLE_ANALYTICS_PROPERTY,
        ),
        product_destination_id=sandbox.conversion_action_id,
    )
    with pytest.raises(exceptions.InvalidArgument) as caught:
        ingest(dm_client, make_request([make_event()], destinations=[bad]))
    assert caught.value.reason == "INVALID_DESTINATION"


def test_user_data_needs_an_encoding(dm_client, make_event, make_request):
    """Hashed identifiers without the request's ``encoding`` are refused."""
    request = make_request(
        [make_event(user_data=users(email()))], encoding=dm.Encoding.ENCODING_UNSPECIFIED
    )
    with pytest.raises(exceptions.InvalidArgument) as caught:
        ingest(dm_client, request)
    assert violations(caught.value) == [("encoding", "REQUIRED_FIELD_MISSING")]


def test_new_conversion_action_is_refused_for_six_hours(
    sandbox, dm_client, make_event, make_request, make_destination_pb
):
    """A conversion action created under 6 hours ago cannot receive conversions yet."""
    sandbox.add_conversion_action("700000002", created_at=NOW - timedelta(hours=1))
    request = make_request(
        [make_event()], destinations=[make_destination_pb(action_id="700000002")]
    )
    with pytest.raises(exceptions.InvalidArgument) as caught:
        ingest(dm_client, request)
    assert caught.value.reason == "CONVERSION_ACTION_TOO_RECENTLY_CREATED"


def test_validate_only_stores_nothing(sandbox, dm_client, make_event, make_request):
    """validate_only validates (errors still raise) but keeps nothing and issues no request id."""
    response = ingest(dm_client, make_request([make_event()], validate_only=True))
    assert response.request_id == ""
    assert sandbox.accepted == []
    with pytest.raises(exceptions.InvalidArgument):
        ingest(dm_client, make_request([make_event(currency="??")], validate_only=True))


def test_status_of_unknown_request_is_invalid(dm_client):
    """RetrieveRequestStatus answers INVALID_REQUEST_ID for ids it never issued."""
    with pytest.raises(exceptions.InvalidArgument) as caught:
        status_of(dm_client, "not-a-request")
    assert caught.value.reason == "INVALID_REQUEST_ID"


CLICK_PROBLEMS = {
    "click under 6 h old": (
        timedelta(hours=2),
        None,
        Reason.PROCESSING_ERROR_REASON_TOO_RECENT_CLICK,
    ),
    "conversion before click": (
        timedelta(days=1),
        NOW - timedelta(days=2),
        Reason.PROCESSING_ERROR_REASON_CONVERSION_PRECEDES_CLICK,
    ),
    "click older than the window": (
        timedelta(days=31),
        None,
        Reason.PROCESSING_ERROR_REASON_EVENT_TOO_OLD,
    ),
}


@pytest.mark.parametrize("case", CLICK_PROBLEMS, ids=list(CLICK_PROBLEMS))
def test_click_rules_fail_the_event_in_processing(
    case, sandbox, dm_client, make_event, make_request, make_destination_pb
):
    """Known clicks are checked: the event is not kept and the status names Google's reason."""
    age, event_time, reason = CLICK_PROBLEMS[case]
    sandbox.add_conversion_action("700000030", click_window_days=30)
    sandbox.add_click("gclid-known", NOW - age)
    event = make_event(
        ad_identifiers=dm.AdIdentifiers(gclid="gclid-known"),
        event_timestamp=event_time or NOW - timedelta(minutes=30),
    )
    request = make_request(
        [event, make_event()], destinations=[make_destination_pb(action_id="700000030")]
    )
    response = ingest(dm_client, request)
    assert [a["transaction_id"] for a in sandbox.accepted] == ["tx-2"]
    (entry,) = status_of(dm_client, response.request_id).request_status_per_destination
    assert entry.request_status == Status.PARTIAL_SUCCESS
    assert [(c.reason, c.record_count) for c in entry.error_info.error_counts] == [(reason, 1)]


def test_denied_consent_is_not_kept(sandbox, dm_client, make_event, make_request):
    """ad_user_data CONSENT_DENIED (event or request level) keeps nothing: DENIED_CONSENT."""
    denied = dm.Consent(ad_user_data=dm.ConsentStatus.CONSENT_DENIED)
    response = ingest(dm_client, make_request([make_event(consent=denied)]))
    ingest(dm_client, make_request([make_event()], consent=denied))
    assert sandbox.accepted == []
    (entry,) = status_of(dm_client, response.request_id).request_status_per_destination
    assert entry.request_status == Status.FAILED
    assert entry.error_info.error_counts[0].reason == Reason.PROCESSING_ERROR_REASON_DENIED_CONSENT


def test_same_transaction_id_is_kept_once(sandbox, dm_client, make_event, make_request):
    """A resend with the same transaction_id is accepted but counted once."""
    first = make_event(transaction_id="deal-9")
    ingest(dm_client, make_request([first]))
    again = ingest(dm_client, make_request([make_event(transaction_id="deal-9")]))
    assert [a["transaction_id"] for a in sandbox.accepted] == ["deal-9"]
    (entry,) = status_of(dm_client, again.request_id).request_status_per_destination
    assert entry.error_info.error_counts[0].reason == (
        Reason.PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID
    )


def test_missing_token_is_unauthenticated(sandbox, make_client, make_event, make_request):
    """A call without a valid bearer token answers UNAUTHENTICATED."""
    client = make_client(token="ya29.not-issued-here")
    with pytest.raises(exceptions.Unauthenticated):
        ingest(client, make_request([make_event()]))
    assert sandbox.accepted == []


def test_token_without_datamanager_scope_is_refused(sandbox, make_client, make_event, make_request):
    """A live token lacking the datamanager scope gets ACCESS_TOKEN_SCOPE_INSUFFICIENT."""
    client = make_client(token=sandbox.issuer.mint({ADWORDS_SCOPE}))
    with pytest.raises(exceptions.PermissionDenied) as caught:
        ingest(client, make_request([make_event()]))
    assert caught.value.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


@pytest.mark.parametrize("sandbox_options", [{"requests_per_minute": 2}])
def test_quota_per_minute_answers_resource_exhausted(dm_client, make_event, make_request):
    """Beyond the per-minute quota: RESOURCE_EXHAUSTED with a RetryInfo delay."""
    ingest(dm_client, make_request([make_event()]))
    ingest(dm_client, make_request([make_event()]))
    with pytest.raises(exceptions.ResourceExhausted) as caught:
        ingest(dm_client, make_request([make_event()]))
    (retry,) = [d for d in caught.value.details if isinstance(d, error_details_pb2.RetryInfo)]
    assert 0 < retry.retry_delay.seconds <= 60


@pytest.mark.parametrize(
    "sandbox_options",
    [
        {
            "faults": FaultPlan(
                script={1: Fault.RATE_LIMIT, 2: Fault.SERVER_ERROR}, retry_after_seconds=7
            )
        }
    ],
)
def test_fault_plan_injects_rate_limits_and_server_errors(
    sandbox, dm_client, make_event, make_request
):
    """Scripted faults: RESOURCE_EXHAUSTED with the plan's delay, then INTERNAL, then success."""
    with pytest.raises(exceptions.ResourceExhausted) as caught:
        ingest(dm_client, make_request([make_event()]))
    (retry,) = [d for d in caught.value.details if isinstance(d, error_details_pb2.RetryInfo)]
    assert retry.retry_delay.seconds == 7
    with pytest.raises(exceptions.InternalServerError):
        ingest(dm_client, make_request([make_event()]))
    ingest(dm_client, make_request([make_event()]))
    assert len(sandbox.accepted) == 1
    assert sandbox.requests == 3


@pytest.mark.parametrize(
    "sandbox_options", [{"faults": FaultPlan(script={1: Fault.LOST_RESPONSE})}]
)
def test_lost_response_keeps_the_event(sandbox, dm_client, make_event, make_request):
    """'Accepted but the response is lost': the caller sees UNAVAILABLE, Google kept it."""
    with pytest.raises(exceptions.ServiceUnavailable):
        ingest(dm_client, make_request([make_event(transaction_id="deal-lost")]))
    assert [a["transaction_id"] for a in sandbox.accepted] == ["deal-lost"]


@pytest.mark.parametrize("sandbox_options", [{"unknown_clicks": False}])
def test_strict_sandbox_does_not_find_unseeded_clicks(sandbox, dm_client, make_event, make_request):
    """With unknown_clicks=False a gclid Google never saw fails processing: CLICK_NOT_FOUND."""
    sandbox.add_click("gclid-seen", NOW - timedelta(days=3))
    seen = make_event(ad_identifiers=dm.AdIdentifiers(gclid="gclid-seen"))
    response = ingest(dm_client, make_request([seen, make_event()]))
    assert [a["gclid"] for a in sandbox.accepted] == ["gclid-seen"]
    (entry,) = status_of(dm_client, response.request_id).request_status_per_destination
    assert entry.error_info.error_counts[0].reason == Reason.PROCESSING_ERROR_REASON_CLICK_NOT_FOUND
