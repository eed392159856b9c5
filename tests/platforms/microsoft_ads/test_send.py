"""``send`` through the unmodified msads SDK to the sandbox: accepted, partial, retry, adjust."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import RESTATEMENT, RETRACTION, Accepted, Prepared, Rejected, Retry
from platforms.microsoft_ads.adapter import MicrosoftAdsDestination, MicrosoftAdsPayload
from platforms.microsoft_ads.settings import MicrosoftAdsSettings
from platforms.sandbox_kit import Fault, FaultPlan

from .conftest import CLICK, NOW

OTHER = "fedcba9876543210fedcba9876543210"


@pytest.fixture
def known(sandbox):
    """The sandbox knows both test clicks, made two days ago."""
    for value in (CLICK, OTHER):
        sandbox.know_click("msclkid", value, NOW - timedelta(days=2))
    return sandbox


def _with(settings: MicrosoftAdsSettings, **changes: object) -> MicrosoftAdsSettings:
    """The settings with ``changes``, validated as a config file's would be."""
    return MicrosoftAdsSettings(**{**settings.model_dump(), **changes})


def accepted(outcomes: list) -> bool:
    """Every outcome is Accepted, with the request's TrackingId as its reference."""
    return all(isinstance(o, Accepted) and o.ref for o in outcomes)


def _prepared(dest, row) -> Prepared[MicrosoftAdsPayload]:
    prepared = dest.prepare(row, NOW)
    assert isinstance(prepared, Prepared), prepared
    return prepared


def test_accepted_with_the_sdk_headers(known, destination, make) -> None:
    outcomes = destination.send([_prepared(destination, make())])
    assert len(outcomes) == 1 and accepted(outcomes)
    [record] = known.accepted
    assert record["kind"] == "conversion" and record["value"] == "1200.0"
    assert record["msclkid"] == CLICK and record["conversion_name"] == "closedloop_deal_won"
    headers = known.headers_seen[-1]
    assert headers["Developertoken"] == "sandbox-developer-token"
    assert (headers["Customerid"], headers["Customeraccountid"]) == ("1000001", "2000002")
    assert headers["User-Agent"].startswith("BingAdsSDKPython.RestApi")
    assert known.requests == 1 and known.token_requests == 1


def test_partial_failure_maps_each_index(known, destination, make) -> None:
    batch = [
        _prepared(destination, make(id=1)),
        _prepared(destination, make(id=2, click="1" * 32)),  # a click Microsoft never made
        _prepared(destination, make(id=3, click=OTHER)),
    ]
    outcomes = destination.send(batch)
    assert isinstance(outcomes[0], Accepted) and isinstance(outcomes[2], Accepted)
    assert isinstance(outcomes[1], Rejected)
    assert outcomes[1].code == "OfflineConversionMicrosoftClickIdInvalid"
    assert [r["msclkid"] for r in known.accepted] == [CLICK, OTHER]


def test_unknown_goal_is_rejected(known, destination, make) -> None:
    [outcome] = destination.send([_prepared(destination, make(options={"conversion_name": "x"}))])
    assert isinstance(outcome, Rejected) and outcome.code == "OfflineConversionNameInvalid"


def test_item_transient_error_is_retried_then_accepted(known, destination, make) -> None:
    known.fail_item(CLICK, permanent=False)
    [first] = destination.send([_prepared(destination, make())])
    assert isinstance(first, Retry) and first.after_seconds
    [second] = destination.send([_prepared(destination, make())])
    assert isinstance(second, Accepted)


def test_item_permanent_error_is_rejected(known, destination, make) -> None:
    known.fail_item(CLICK, permanent=True)
    [outcome] = destination.send([_prepared(destination, make())])
    assert isinstance(outcome, Rejected)
    assert known.rejected[0]["key"].startswith(CLICK)


def test_repeat_is_ignored_by_microsoft(known, destination, make) -> None:
    destination.send([_prepared(destination, make())])
    assert accepted(destination.send([_prepared(destination, make(id=9))]))
    assert len(known.accepted) == 1


def test_rate_limit_raises_retryable_with_the_hint(known, destination, make) -> None:
    destination.setup()  # the token first: faults hit the next request
    known.faults = FaultPlan(script={1: Fault.RATE_LIMIT}, retry_after_seconds=7)
    with pytest.raises(RetryablePlatformError) as caught:
        destination.send([_prepared(destination, make())])
    assert caught.value.retry_after == 7
    assert caught.value.code == "CallRateExceeded"


def test_server_error_is_retryable(known, destination, make) -> None:
    destination.setup()
    known.faults = FaultPlan(script={1: Fault.SERVER_ERROR})
    with pytest.raises(RetryablePlatformError):
        destination.send([_prepared(destination, make())])
    assert known.accepted == []


def test_dropped_connection_is_retryable(known, destination, make) -> None:
    destination.setup()
    known.faults = FaultPlan(script={1: Fault.DROP})
    with pytest.raises(RetryablePlatformError) as caught:
        destination.send([_prepared(destination, make())])
    assert caught.value.code == "connection"


def test_wrong_developer_token_is_permanent(known, settings, make) -> None:
    dest = MicrosoftAdsDestination(_with(settings, developer_token="not-it"))
    with pytest.raises(PermanentPlatformError) as caught:
        dest.send([_prepared(dest, make())])
    assert "developer_token" in str(caught.value)


def test_wrong_account_is_permanent(known, settings, make) -> None:
    dest = MicrosoftAdsDestination(_with(settings, account_id="9"))
    with pytest.raises(PermanentPlatformError):
        dest.send([_prepared(dest, make())])


def test_revoked_refresh_token_is_permanent(known, settings, make) -> None:
    dest = MicrosoftAdsDestination(_with(settings, refresh_token="M.revoked"))
    with pytest.raises(PermanentPlatformError) as caught:
        dest.send([_prepared(dest, make())])
    assert caught.value.code == "invalid_grant"
    assert known.requests == 0


def test_expired_access_token_is_refreshed_once(known, destination, make) -> None:
    destination.send([_prepared(destination, make())])
    known.tokens._tokens.clear()  # Microsoft no longer knows the token: it expired
    assert accepted(destination.send([_prepared(destination, make(click=OTHER))]))
    assert known.token_requests == 2


def test_more_than_1000_items_never_leave(known, destination, make) -> None:
    item = _prepared(destination, make())
    with pytest.raises(ValueError):
        destination.send([item] * 1001)
    assert known.requests == 0


def test_sandbox_refuses_more_than_1000_items(known, destination, make) -> None:
    """The limit is the platform's too: a client that forgot it gets an operation error."""
    item = _prepared(destination, make())
    destination.setup()
    with pytest.raises(PermanentPlatformError) as caught:
        destination._apply("conversions", [item.payload.fields] * 1001)
    assert "1000" in str(caught.value)


def test_sandbox_refuses_what_prepare_would_skip(known, destination, make) -> None:
    """Old clicks and conversions before the click are the platform's rules, not only ours."""
    known.know_click("msclkid", "a" * 32, NOW - timedelta(days=91))
    known.know_click("msclkid", "b" * 32, NOW - timedelta(hours=1))
    base = _prepared(destination, make()).payload.fields
    destination.setup()
    outcomes = destination._apply(
        "conversions",
        [{**base, "MicrosoftClickId": "a" * 32}, {**base, "MicrosoftClickId": "b" * 32}],
    )
    assert [o.code for o in outcomes] == [  # type: ignore[union-attr]
        "OfflineConversionClickIdOutsideConversionWindow",
        "OfflineConversionTimeEarlierThanClickTime",
    ]


def test_restatement_and_retraction(known, destination, make) -> None:
    destination.send([_prepared(destination, make())])
    restate = _prepared(destination, make(id=2, kind=RESTATEMENT, value="800", adjusts_key="cl-1"))
    retract = _prepared(destination, make(id=3, kind=RETRACTION, adjusts_key="cl-1"))
    assert accepted(destination.send([restate]))
    assert accepted(destination.send([retract]))
    kinds = [(r["kind"], r["value"]) for r in known.accepted]
    assert kinds == [("conversion", "1200.0"), ("restatement", "800.0"), ("retraction", None)]
    assert len({r["key"] for r in known.accepted}) == 1


def test_adjusting_an_unknown_conversion_is_rejected(known, destination, make) -> None:
    retract = _prepared(destination, make(kind=RETRACTION, adjusts_key="cl-1"))
    [outcome] = destination.send([retract])
    assert isinstance(outcome, Rejected) and outcome.code == "OfflineConversionNotFound"


def test_mixed_batch_goes_to_both_endpoints(known, destination, make) -> None:
    destination.send([_prepared(destination, make())])
    batch = [
        _prepared(destination, make(id=2, click=OTHER)),
        _prepared(destination, make(id=3, kind=RETRACTION, adjusts_key="cl-1")),
    ]
    outcomes = destination.send(batch)
    assert accepted(outcomes) and len(outcomes) == 2
    assert known.requests == 3


def test_enhanced_conversion_with_hashes_only(known, settings, make) -> None:
    dest = MicrosoftAdsDestination(_with(settings, enhanced_conversions=True))
    row = make(click=None, email_sha256=("a" * 64,))
    assert accepted(dest.send([_prepared(dest, row)]))
    assert known.accepted[0]["hashed_email"] == "a" * 64


def test_dry_run_sends_nothing(known, settings, make) -> None:
    dest = MicrosoftAdsDestination(settings, dry_run=True)
    with pytest.raises(PermanentPlatformError):
        dest.send([_prepared(dest, make())])
    assert known.requests == 0


def test_lost_answer_is_retried_and_microsoft_keeps_it_once(known, destination, make) -> None:
    destination.setup()
    known.faults = FaultPlan(script={1: Fault.LOST_RESPONSE})
    with pytest.raises(RetryablePlatformError):
        destination.send([_prepared(destination, make())])
    assert len(known.accepted) == 1  # applied, though the answer never arrived
    assert accepted(destination.send([_prepared(destination, make())]))
    assert len(known.accepted) == 1


def test_rate_limited_token_endpoint_is_retryable(known, destination, make) -> None:
    known.faults = FaultPlan(script={1: Fault.RATE_LIMIT})  # the first request: the token
    with pytest.raises(RetryablePlatformError) as caught:
        destination.send([_prepared(destination, make())])
    assert caught.value.code == "token_endpoint_error"


def test_token_is_renewed_before_it_expires(known, destination, make) -> None:
    destination.send([_prepared(destination, make())])
    assert known.token_requests == 1
    destination._tokens._expires_at = 0.0  # its lifetime (less the margin) has run out
    assert accepted(destination.send([_prepared(destination, make(click=OTHER))]))
    assert known.token_requests == 2
