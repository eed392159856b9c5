"""GA4Destination.send against the sandbox: fan-out per client, validation, faults."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from connector.config.models import GA4Settings
from platforms.base import Accepted, PlannedConversion, Prepared, Rejected, Retry
from platforms.ga4.adapter import GA4Destination, GA4Event
from platforms.ga4.sandbox import GA4Sandbox
from platforms.sandbox_kit import Fault, FaultPlan

from .conftest import NOW, make_conversion

Build = Callable[..., PlannedConversion]


def faulty(faults: FaultPlan) -> GA4Sandbox:
    return GA4Sandbox(faults, clock=lambda: NOW).start()


def destination(settings: GA4Settings, **kwargs: object) -> GA4Destination:
    return GA4Destination(settings, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def adapter(ga4_settings: GA4Settings) -> Iterator[GA4Destination]:
    """A live adapter pointed at the sandbox."""
    dest = destination(ga4_settings)
    yield dest
    dest.close()


def prepare_all(adapter: GA4Destination, conversions: list[PlannedConversion]) -> list[Prepared]:
    out = [adapter.prepare(c, NOW) for c in conversions]
    assert all(isinstance(p, Prepared) for p in out), out
    return out  # type: ignore[return-value]


def test_one_request_per_client_outcomes_in_input_order(
    adapter: GA4Destination, sandbox: GA4Sandbox
) -> None:
    """Three clients interleaved become three requests; outcomes follow input order."""
    clients = ["1.1", "2.2", "1.1", "3.3", "2.2"]
    batch = prepare_all(
        adapter, [make_conversion(n, client_id=c) for n, c in enumerate(clients, start=1)]
    )
    outcomes = adapter.send(batch)
    assert [o.ref for o in outcomes] == [f"hubspot-deal-{n}" for n in range(1, 6)]  # type: ignore[union-attr]
    assert all(isinstance(o, Accepted) for o in outcomes)
    assert sandbox.collect_requests == 3
    by_client = {(a["client_id"], a["transaction_id"]) for a in sandbox.accepted}
    assert by_client == {(c, f"hubspot-deal-{n}") for n, c in enumerate(clients, start=1)}


def test_more_than_25_events_of_one_client_split(
    adapter: GA4Destination, sandbox: GA4Sandbox
) -> None:
    """GA4 takes 25 events per request: 30 purchases of one client take two requests."""
    batch = prepare_all(adapter, [make_conversion(n) for n in range(30)])
    outcomes = adapter.send(batch)
    assert all(isinstance(o, Accepted) for o in outcomes)
    assert sandbox.collect_requests == 2
    assert len(sandbox.accepted) == 30
    assert sandbox.dropped == []


def test_resend_is_kept_once(adapter: GA4Destination, sandbox: GA4Sandbox) -> None:
    """Sending the same purchase twice leaves one in GA4 (transaction_id dedup)."""
    batch = prepare_all(adapter, [make_conversion(1)])
    adapter.send(batch)
    adapter.send(batch)
    assert len(sandbox.accepted) == 1


def test_requests_run_in_parallel(ga4_settings: GA4Settings) -> None:
    """With latency injected, the sandbox sees several requests in flight at once."""
    sandbox = faulty(FaultPlan(latency_seconds=0.2))
    try:
        settings = GA4Settings.model_validate({**sandbox.platform_config(), "concurrency": 8})
        dest = destination(settings)
        conversions = [make_conversion(n, client_id=f"{n}.1") for n in range(8)]
        outcomes = dest.send(prepare_all(dest, conversions))
        dest.close()
        assert all(isinstance(o, Accepted) for o in outcomes)
        assert sandbox.peak_in_flight["mp"] > 1
    finally:
        sandbox.stop()


def test_concurrency_one_is_serial() -> None:
    """The same batch with concurrency 1 never has two requests in flight."""
    sandbox = faulty(FaultPlan(latency_seconds=0.05))
    try:
        settings = GA4Settings.model_validate({**sandbox.platform_config(), "concurrency": 1})
        dest = destination(settings)
        dest.send(prepare_all(dest, [make_conversion(n, client_id=f"{n}.1") for n in range(4)]))
        dest.close()
        assert sandbox.peak_in_flight["mp"] == 1
        assert len(sandbox.accepted) == 4
    finally:
        sandbox.stop()


def test_server_errors_become_retry_for_that_client_only() -> None:
    """A 500 on one client's request retries those items; the others are accepted."""
    sandbox = faulty(FaultPlan(script={2: Fault.SERVER_ERROR, 3: Fault.UNAVAILABLE}))
    try:
        settings = GA4Settings.model_validate({**sandbox.platform_config(), "concurrency": 1})
        dest = destination(settings)
        clients = ["1.1", "2.2", "3.3", "4.4"]
        batch = prepare_all(dest, [make_conversion(n, client_id=c) for n, c in enumerate(clients)])
        outcomes = dest.send(batch)
        dest.close()
        assert [type(o) for o in outcomes] == [Accepted, Retry, Retry, Accepted]
        assert [o.code for o in outcomes if isinstance(o, Retry)] == ["HTTP_500", "HTTP_503"]
        assert {a["client_id"] for a in sandbox.accepted} == {"1.1", "4.4"}
    finally:
        sandbox.stop()


def test_rate_limit_retry_after_is_honoured() -> None:
    """A 429 carries its Retry-After into the Retry outcome."""
    sandbox = faulty(FaultPlan(script={1: Fault.RATE_LIMIT}, retry_after_seconds=7))
    try:
        dest = destination(GA4Settings.model_validate(sandbox.platform_config()))
        [outcome] = dest.send(prepare_all(dest, [make_conversion(1)]))
        dest.close()
        assert outcome == Retry("HTTP_429", "GA4 answered 429", 7.0)
    finally:
        sandbox.stop()


@pytest.mark.parametrize(
    ("fault", "code"),
    [(Fault.TIMEOUT, "TIMEOUT"), (Fault.DROP, "CONNECTION_ERROR")],
)
def test_timeouts_and_dropped_connections_retry(fault: Fault, code: str) -> None:
    """No answer in time, or a closed connection, is a Retry without the secret in it."""
    sandbox = faulty(FaultPlan(script={1: fault}, timeout_seconds=1.0))
    try:
        dest = destination(GA4Settings.model_validate(sandbox.platform_config()), timeout=0.3)
        [outcome] = dest.send(prepare_all(dest, [make_conversion(1)]))
        dest.close()
        assert isinstance(outcome, Retry)
        assert outcome.code == code
        assert sandbox.api_secret not in outcome.message
        assert sandbox.accepted == []
    finally:
        sandbox.stop()


def test_lost_response_then_resend_counts_once() -> None:
    """GA4 kept the purchase but the answer was lost: Retry, and the resend is deduped."""
    sandbox = faulty(FaultPlan(script={1: Fault.LOST_RESPONSE}))
    try:
        dest = destination(GA4Settings.model_validate(sandbox.platform_config()))
        batch = prepare_all(dest, [make_conversion(1)])
        [first] = dest.send(batch)
        [second] = dest.send(batch)
        dest.close()
        assert isinstance(first, Retry) and isinstance(second, Accepted)
        assert len(sandbox.accepted) == 1
    finally:
        sandbox.stop()


def bad_payload(conversion: PlannedConversion) -> Prepared[GA4Event]:
    """A stored payload GA4 will refuse: value without currency."""
    event = {"name": "purchase", "params": {"value": 5.0, "transaction_id": conversion.dedup_key}}
    return Prepared(conversion, GA4Event({"client_id": "111.222"}, event))


def test_validate_mode_turns_messages_into_rejections(
    ga4_settings: GA4Settings, sandbox: GA4Sandbox
) -> None:
    """In validate mode the bad event is Rejected with GA4's code; its neighbours still go."""
    settings = ga4_settings.model_copy(update={"validate_events": True})
    dest = destination(settings)
    good = prepare_all(dest, [make_conversion(1), make_conversion(3)])
    outcomes = dest.send([good[0], bad_payload(make_conversion(2)), good[1]])
    dest.close()
    assert isinstance(outcomes[0], Accepted) and isinstance(outcomes[2], Accepted)
    assert outcomes[1] == Rejected(
        "VALUE_REQUIRED",
        "Event at index: [1] sets value but no currency; currency is required with value.",
    )
    assert sandbox.debug_requests == 1
    assert [a["transaction_id"] for a in sandbox.accepted] == ["hubspot-deal-1", "hubspot-deal-3"]


def test_without_validation_an_invalid_event_is_lost_silently(
    adapter: GA4Destination, sandbox: GA4Sandbox
) -> None:
    """Why validate mode exists: /mp/collect answers 2xx and GA4 keeps nothing."""
    [outcome] = adapter.send([bad_payload(make_conversion(2))])
    assert isinstance(outcome, Accepted)
    assert sandbox.accepted == []
    assert sandbox.dropped[0]["reason"] == "invalid measurement"


def test_dry_run_validates_and_stores_nothing(
    ga4_settings: GA4Settings, sandbox: GA4Sandbox
) -> None:
    """Dry run asks the validation server only: nothing reaches /mp/collect."""
    dest = destination(ga4_settings, dry_run=True)
    outcomes = dest.send(
        [*prepare_all(dest, [make_conversion(1)]), bad_payload(make_conversion(2))]
    )
    dest.close()
    assert isinstance(outcomes[0], Accepted) and outcomes[0].diagnostics["dry_run"] is True  # type: ignore[index]
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == "VALUE_REQUIRED"
    assert sandbox.collect_requests == 0
    assert sandbox.accepted == []
    assert sandbox.debug_requests == 1


def test_validate_is_validate_only_on_a_live_adapter(
    adapter: GA4Destination, sandbox: GA4Sandbox
) -> None:
    """``validate`` (what a dry run calls) asks the validation server only, even when live."""
    outcomes = adapter.validate(
        [*prepare_all(adapter, [make_conversion(1)]), bad_payload(make_conversion(2))]
    )
    assert isinstance(outcomes[0], Accepted)
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == "VALUE_REQUIRED"
    assert sandbox.collect_requests == 0 and sandbox.accepted == []


def test_old_event_is_sent_without_timestamp_and_noted(
    adapter: GA4Destination, sandbox: GA4Sandbox
) -> None:
    """A 5-day-old deal reaches GA4 (dated at receipt) and the outcome says so."""
    [outcome] = adapter.send(prepare_all(adapter, [make_conversion(1, age=timedelta(days=5))]))
    assert isinstance(outcome, Accepted)
    assert "72-hour" in outcome.diagnostics["notes"][0]  # type: ignore[index]
    assert sandbox.accepted[0]["timestamp_micros"] is None


def test_timestamp_that_ages_out_before_sending_is_dropped(
    ga4_settings: GA4Settings, sandbox: GA4Sandbox
) -> None:
    """Prepared 70 h after the event but sent 3 h later: the stale timestamp is left out."""
    dest = GA4Destination(ga4_settings, clock=lambda: NOW)
    prepared = dest.prepare(make_conversion(1, age=timedelta(hours=73)), NOW - timedelta(hours=3))
    assert isinstance(prepared, Prepared) and "timestamp_micros" in prepared.payload.event
    [outcome] = dest.send([prepared])
    dest.close()
    assert isinstance(outcome, Accepted)
    assert len(sandbox.accepted) == 1 and sandbox.accepted[0]["timestamp_micros"] is None


def test_prepared_fields_arrive_in_ga4(ga4_settings: GA4Settings, sandbox: GA4Sandbox) -> None:
    """Session, user_id, consent and timestamp reach GA4 as prepared."""
    dest = destination(ga4_settings.model_copy(update={"send_user_id": True}))
    conversion = make_conversion(
        1,
        session_id="1731990000",
        external_id="crm-1",
        consent_ad_user_data=True,
        consent_ad_personalization=True,
    )
    dest.send(prepare_all(dest, [conversion]))
    dest.close()
    [kept] = sandbox.accepted
    assert kept["session_id"] == "1731990000" and kept["engagement_time_msec"] == 100
    assert kept["user_id"] == "crm-1"
    assert kept["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "GRANTED"}
    assert kept["timestamp_micros"] == int(conversion.event_time.timestamp()) * 1_000_000
    assert (kept["value"], kept["currency"]) == (100.0, "USD")


def test_skip_mode_rejects_an_event_that_ages_out_before_sending(
    ga4_settings: GA4Settings, sandbox: GA4Sandbox
) -> None:
    """With late_events: skip, an event that leaves the window in transit is not sent undated."""
    dest = GA4Destination(
        ga4_settings.model_copy(update={"late_events": "skip"}), clock=lambda: NOW
    )
    then = NOW - timedelta(hours=3)
    aging = dest.prepare(make_conversion(1, age=timedelta(hours=73)), then)
    fresh = dest.prepare(make_conversion(2, age=timedelta(hours=1)), then)
    assert isinstance(aging, Prepared) and isinstance(fresh, Prepared)
    late, sent = dest.send([aging, fresh])
    dest.close()
    assert isinstance(late, Rejected) and late.code == "late_event"
    assert isinstance(sent, Accepted)
    assert [e["transaction_id"] for e in sandbox.accepted] == [
        fresh.payload.event["params"]["transaction_id"]
    ]
