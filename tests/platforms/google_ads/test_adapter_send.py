"""``GoogleAdsDestination.send`` through the real SDKs against the Google Ads sandbox."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import Accepted, Confirming, Identifiers, Prepared, Rejected
from platforms.google_ads.sandbox import ADWORDS_SCOPE
from platforms.sandbox_kit.faults import Fault, FaultPlan

from .conftest import NOW


def prepared(adapter, conversions) -> list[Prepared]:
    """Prepare every conversion, insisting that each is sendable."""
    out = [adapter.prepare(c, NOW) for c in conversions]
    assert all(isinstance(p, Prepared) for p in out), out
    return out


def without_timestamp(item: Prepared) -> Prepared:
    """The same item whose event lost its required timestamp (an event Google refuses)."""
    event = type(item.payload.event)(item.payload.event)
    event.event_timestamp = None
    return replace(item, payload=replace(item.payload, event=event))


def test_batch_of_2000_is_one_request(sandbox, make_destination, make_conversion):
    """2,000 conversions (max_batch) go in one IngestEvents call; one status confirms them."""
    adapter = make_destination()
    assert adapter.max_batch == 2000
    outcomes = adapter.send(prepared(adapter, [make_conversion() for _ in range(2000)]))
    assert {type(o) for o in outcomes} == {Confirming}
    (ref,) = {o.ref for o in outcomes}
    assert sandbox.datamanager.calls == {"IngestEvents": 1}  # no status read at the ingest
    verdict = adapter.confirm([ref])[ref]
    assert isinstance(verdict, Accepted)
    assert verdict.diagnostics["destinations"][0]["record_count"] == 2000
    assert sandbox.datamanager.calls == {"IngestEvents": 1, "RetrieveRequestStatus": 1}
    assert len(sandbox.accepted) == 2000


def test_one_invalid_event_does_not_block_the_others(sandbox, make_destination, make_conversion):
    """Google fails the request naming events[1] and [3]; those are rejected, the rest sent."""
    adapter = make_destination()
    items = prepared(adapter, [make_conversion() for _ in range(5)])
    items[1], items[3] = without_timestamp(items[1]), without_timestamp(items[3])
    outcomes = adapter.send(items)
    assert [type(o) for o in outcomes] == [
        Confirming,
        Rejected,
        Confirming,
        Rejected,
        Confirming,
    ]
    assert outcomes[1].code == "REQUIRED_FIELD_MISSING"
    assert "events[1].event_timestamp" in outcomes[1].message
    kept = [a["transaction_id"] for a in sandbox.accepted]
    assert kept == [items[i].conversion.dedup_key for i in (0, 2, 4)]
    assert sandbox.datamanager.calls["IngestEvents"] == 2


def test_resend_of_a_transaction_id_counts_once(sandbox, make_destination, make_conversion):
    """Sending the same conversion twice is accepted twice but kept once by Google."""
    adapter = make_destination()
    items = prepared(adapter, [make_conversion()])
    first, second = adapter.send(items), adapter.send(items)
    verdicts = adapter.confirm([first[0].ref, second[0].ref])
    assert isinstance(verdicts[first[0].ref], Accepted)
    assert isinstance(verdicts[second[0].ref], Accepted)  # a duplicate: Google holds it
    assert len(sandbox.accepted) == 1
    errors = verdicts[second[0].ref].diagnostics["destinations"][0]["errors"]
    assert errors == {"PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID": 1}


def test_dry_run_validates_and_stores_nothing(sandbox, make_destination, make_conversion):
    """dry_run sends validate_only: valid items pass, invalid ones are rejected, none kept."""
    adapter = make_destination(dry_run=True)
    items = prepared(adapter, [make_conversion(), make_conversion()])
    outcomes = adapter.send([items[0], without_timestamp(items[1])])
    assert outcomes[0] == Accepted(ref=None, diagnostics={"validate_only": True})
    assert isinstance(outcomes[1], Rejected)
    assert sandbox.accepted == []
    assert sandbox.datamanager.calls["RetrieveRequestStatus"] == 0


def test_validate_is_validate_only_on_a_live_adapter(sandbox, make_destination, make_conversion):
    """``validate`` (what a dry run calls) never stores, even on an adapter that sends for real."""
    adapter = make_destination()
    items = prepared(adapter, [make_conversion(), make_conversion()])
    outcomes = adapter.validate([items[0], without_timestamp(items[1])])
    assert outcomes[0] == Accepted(ref=None, diagnostics={"validate_only": True})
    assert isinstance(outcomes[1], Rejected)
    assert sandbox.accepted == []


def test_processing_failure_of_every_event_is_rejected(sandbox, make_destination, make_conversion):
    """A click Google knows is 2 h old (we did not): the status says TOO_RECENT_CLICK."""
    sandbox.add_click("gclid-fresh", NOW - timedelta(hours=2))
    adapter = make_destination()
    conversion = make_conversion(identifiers=Identifiers(gclid="gclid-fresh"), event_time=NOW)
    (handed,) = adapter.send(prepared(adapter, [conversion]))
    assert isinstance(handed, Confirming)
    outcome = adapter.confirm([handed.ref])[handed.ref]
    assert isinstance(outcome, Rejected)
    assert outcome.code == "PROCESSING_ERROR_REASON_TOO_RECENT_CLICK"
    assert sandbox.accepted == []


@pytest.mark.parametrize(
    "sandbox_options",
    [{"faults": FaultPlan(script={1: Fault.RATE_LIMIT}, retry_after_seconds=7)}],
)
def test_rate_limit_is_retryable_with_googles_delay(sandbox, make_destination, make_conversion):
    """RESOURCE_EXHAUSTED (429) raises RetryablePlatformError with RetryInfo's delay."""
    adapter = make_destination()
    with pytest.raises(RetryablePlatformError) as caught:
        adapter.send(prepared(adapter, [make_conversion()]))
    assert caught.value.code == "RESOURCE_EXHAUSTED"
    assert caught.value.retry_after == 7
    assert sandbox.accepted == []


@pytest.mark.parametrize("sandbox_options", [{"requests_per_minute": 2}])
def test_per_minute_quota_is_retryable(make_destination, make_conversion):
    """Past 300 (here 2) requests a minute the next send is retried within the minute."""
    adapter = make_destination()
    (handed,) = adapter.send(prepared(adapter, [make_conversion()]))  # IngestEvents
    adapter.confirm([handed.ref])  # RetrieveRequestStatus
    with pytest.raises(RetryablePlatformError) as caught:
        adapter.send(prepared(adapter, [make_conversion()]))
    assert 0 < caught.value.retry_after <= 60


@pytest.mark.parametrize(
    "sandbox_options",
    [{"faults": FaultPlan(script={1: Fault.UNAVAILABLE, 2: Fault.SERVER_ERROR})}],
)
def test_server_errors_are_retryable_without_sdk_retries(
    sandbox, make_destination, make_conversion
):
    """UNAVAILABLE and INTERNAL raise RetryablePlatformError after one attempt each."""
    adapter = make_destination()
    items = prepared(adapter, [make_conversion()])
    for code in ("UNAVAILABLE", "INTERNAL"):
        with pytest.raises(RetryablePlatformError) as caught:
            adapter.send(items)
        assert caught.value.code == code
    assert sandbox.datamanager.calls["IngestEvents"] == 2


@pytest.mark.parametrize(
    "sandbox_options", [{"faults": FaultPlan(script={1: Fault.TIMEOUT}, timeout_seconds=5)}]
)
def test_timeout_is_retryable(make_destination, make_conversion):
    """A call past the adapter's timeout raises RetryablePlatformError (DEADLINE_EXCEEDED)."""
    adapter = make_destination(timeout=0.3)
    with pytest.raises(RetryablePlatformError) as caught:
        adapter.send(prepared(adapter, [make_conversion()]))
    assert caught.value.code == "DEADLINE_EXCEEDED"


@pytest.mark.parametrize(
    "sandbox_options", [{"faults": FaultPlan(script={1: Fault.LOST_RESPONSE})}]
)
def test_lost_response_then_resend_counts_once(sandbox, make_destination, make_conversion):
    """Kept but unanswered: the retry is accepted and Google still holds one conversion."""
    adapter = make_destination()
    items = prepared(adapter, [make_conversion()])
    with pytest.raises(RetryablePlatformError):
        adapter.send(items)
    (handed,) = adapter.send(items)
    assert isinstance(handed, Confirming)
    assert isinstance(adapter.confirm([handed.ref])[handed.ref], Accepted)
    assert len(sandbox.accepted) == 1


@pytest.mark.parametrize("sandbox_options", [{"granted_scopes": {ADWORDS_SCOPE}}])
def test_wrong_scope_is_permanent_with_the_fix(sandbox, make_destination, make_conversion):
    """A grant without the datamanager scope: PermanentPlatformError saying how to fix it."""
    adapter = make_destination()
    with pytest.raises(PermanentPlatformError) as caught:
        adapter.send(prepared(adapter, [make_conversion()]))
    assert (
        "the token lacks the datamanager scope: re-authorise with "
        "https://www.googleapis.com/auth/datamanager" in str(caught.value)
    )
    assert sandbox.datamanager.requests == 0


def test_unknown_customer_is_permanent(make_destination, make_conversion):
    """A customer the user cannot access: PermanentPlatformError naming customer_id."""
    adapter = make_destination(customer_id="9999999999")
    with pytest.raises(PermanentPlatformError) as caught:
        adapter.send(prepared(adapter, [make_conversion()]))
    assert "9999999999" in str(caught.value)
    assert "platforms.google_ads.customer_id" in str(caught.value)


def test_unknown_conversion_action_is_permanent(sandbox, make_destination, make_conversion):
    """A conversion action Google does not know fails the request: permanent, with its code."""
    adapter = make_destination()
    items = prepared(adapter, [make_conversion(options={"conversion_action_id": "42"})])
    with pytest.raises(PermanentPlatformError) as caught:
        adapter.send(items)
    assert caught.value.code == "INVALID_CONVERSION_ACTION_ID"
    assert sandbox.accepted == []


@pytest.mark.parametrize("sandbox_options", [{"api": "google_ads"}])
def test_allowlisted_api_uploads_and_adjusts_through_the_ads_api(
    sandbox, make_destination, make_conversion
):
    """api: google_ads dispatches conversions and restatements to the Google Ads API."""
    adapter = make_destination()
    conversion = make_conversion()
    sandbox.add_click(conversion.identifiers.gclid, conversion.identifiers.click_time)
    (outcome,) = adapter.send(prepared(adapter, [conversion]))
    assert isinstance(outcome, Accepted), outcome
    restatement = make_conversion(
        kind="restatement", adjusts_key=conversion.dedup_key, value=conversion.value * 2
    )
    (adjusted,) = adapter.send(prepared(adapter, [restatement]))
    assert isinstance(adjusted, Accepted), adjusted
    assert [a["api"] for a in sandbox.accepted] == ["google_ads"]
    assert sandbox.datamanager.requests == 0


@pytest.mark.parametrize("sandbox_options", [{"allowlisted": False}])
def test_not_allowlisted_tells_the_admin_to_switch_to_data_manager(
    make_destination, make_conversion
):
    """UploadClickConversions for a new account fails once, saying to use data_manager."""
    adapter = make_destination(api="google_ads")
    with pytest.raises(PermanentPlatformError) as caught:
        adapter.send(prepared(adapter, [make_conversion()]))
    assert caught.value.code == "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE"
    assert "data_manager" in str(caught.value)


def test_adjustment_finds_a_data_manager_conversion(sandbox, make_destination, make_conversion):
    """Uploaded through Data Manager, restated then retracted through the Google Ads API."""
    adapter = make_destination()
    conversion = make_conversion()
    adapter.send(prepared(adapter, [conversion]))
    restatement = make_conversion(
        kind="restatement", adjusts_key=conversion.dedup_key, value=conversion.value * 2
    )
    retraction = make_conversion(kind="retraction", adjusts_key=conversion.dedup_key)
    (restated,) = adapter.send(prepared(adapter, [restatement]))
    assert isinstance(restated, Accepted), restated
    (kept,) = sandbox.accepted
    assert (kept["api"], kept["value"], kept["restated"]) == ("data_manager", 241.0, True)
    (retracted,) = adapter.send(prepared(adapter, [retraction]))
    assert isinstance(retracted, Accepted), retracted
    assert sandbox.accepted[0]["retracted"] is True
