"""The GA4 sandbox's Measurement Protocol behaves like Google's: validation and silent drops."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests

from platforms.ga4.limits import RESERVED_EVENTS
from platforms.ga4.sandbox import GA4Sandbox

from .conftest import NOW

NOW_MICROS = int(NOW.timestamp()) * 1_000_000


def purchase(transaction_id: str = "T-1", **params: Any) -> dict[str, Any]:
    return {
        "name": "purchase",
        "params": {"transaction_id": transaction_id, "value": 10.5, "currency": "USD", **params},
    }


def debug(sandbox: GA4Sandbox, body: Any, raw: bytes | None = None) -> list[dict[str, str]]:
    response = requests.post(
        f"{sandbox.url}/debug/mp/collect",
        params={"measurement_id": sandbox.measurement_id, "api_secret": "not-checked"},
        data=raw if raw is not None else None,
        json=None if raw is not None else body,
        timeout=5,
    )
    assert response.status_code == 200
    return response.json()["validationMessages"]


def collect(sandbox: GA4Sandbox, body: Any, *, secret: str | None = None) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/mp/collect",
        params={
            "measurement_id": sandbox.measurement_id,
            "api_secret": secret if secret is not None else sandbox.api_secret,
        },
        json=body,
        timeout=5,
    )


def codes(messages: list[dict[str, str]]) -> list[str]:
    return [m["validationCode"] for m in messages]


def test_valid_measurement_has_no_messages(shared_sandbox: GA4Sandbox) -> None:
    """A well-formed purchase passes the validation server with an empty list."""
    body = {"client_id": "1.2", "events": [purchase(session_id="9", engagement_time_msec=1)]}
    assert debug(shared_sandbox, body) == []


@pytest.mark.parametrize(
    ("body", "field_path", "code"),
    [
        ({"events": [purchase()]}, "client_id", "VALUE_REQUIRED"),
        ({"client_id": 12, "events": [purchase()]}, "client_id", "VALUE_INVALID"),
        ({"client_id": "1.2", "events": []}, "events", "VALUE_REQUIRED"),
        ({"client_id": "1.2", "events": [purchase()] * 26}, "events", "EXCEEDED_MAX_ENTITIES"),
        ({"client_id": "1.2", "events": [{"name": "_bad"}]}, "events", "NAME_INVALID"),
        ({"client_id": "1.2", "events": [{"name": "9lives"}]}, "events", "NAME_INVALID"),
        ({"client_id": "1.2", "events": [{"name": "has-dash"}]}, "events", "NAME_INVALID"),
        ({"client_id": "1.2", "events": [{"name": "a" * 41}]}, "events", "NAME_INVALID"),
        ({"client_id": "1.2", "events": [{"name": "session_start"}]}, "events", "NAME_RESERVED"),
        ({"client_id": "1.2", "events": [{"name": "google_thing"}]}, "events", "NAME_RESERVED"),
        (
            {"client_id": "1.2", "events": [{"name": "x", "params": {"ga_x": 1}}]},
            "events.params.ga_x",
            "NAME_RESERVED",
        ),
        (
            {"client_id": "1.2", "events": [{"name": "x", "params": {"b" * 41: 1}}]},
            "events.params." + "b" * 41,
            "NAME_INVALID",
        ),
        (
            {"client_id": "1.2", "events": [{"name": "x", "params": {"p": "v" * 101}}]},
            "events.params.p",
            "VALUE_OUT_OF_BOUNDS",
        ),
        (
            {
                "client_id": "1.2",
                "events": [{"name": "x", "params": {f"p{i}": i for i in range(26)}}],
            },
            "events.params",
            "EXCEEDED_MAX_ENTITIES",
        ),
        (
            {"client_id": "1.2", "events": [{"name": "x", "params": {"value": 5}}]},
            "events.params.currency",
            "VALUE_REQUIRED",
        ),
        (
            {"client_id": "1.2", "events": [purchase(currency="dollars")]},
            "events.params.currency",
            "VALUE_INVALID",
        ),
        (
            {"client_id": "1.2", "consent": {"ad_user_data": "YES"}, "events": [purchase()]},
            "consent.ad_user_data",
            "VALUE_INVALID",
        ),
        (
            {"client_id": "1.2", "consent": {"ads": "GRANTED"}, "events": [purchase()]},
            "consent.ads",
            "NAME_INVALID",
        ),
        (
            {"client_id": "1.2", "user_id": "u" * 257, "events": [purchase()]},
            "user_id",
            "VALUE_OUT_OF_BOUNDS",
        ),
    ],
)
def test_debug_reports_each_violation_with_its_code(
    shared_sandbox: GA4Sandbox, body: dict[str, Any], field_path: str, code: str
) -> None:
    """Each documented limit yields a validation message with GA4's field path and code."""
    messages = debug(shared_sandbox, body)
    assert {"fieldPath": field_path, "validationCode": code} in [
        {"fieldPath": m["fieldPath"], "validationCode": m["validationCode"]} for m in messages
    ]
    assert all(m["description"] for m in messages)


def test_debug_names_the_failing_event_index(shared_sandbox: GA4Sandbox) -> None:
    """Event-level messages say which event failed, as Google's do."""
    messages = debug(shared_sandbox, {"client_id": "1.2", "events": [purchase(), {"name": "_bad"}]})
    assert messages[0]["description"].startswith("Event at index: [1] has invalid name [_bad]")


def test_duplicate_keys_are_name_duplicated(shared_sandbox: GA4Sandbox) -> None:
    """A second client_id (or a repeated param) in one measurement is NAME_DUPLICATED."""
    raw = b'{"client_id":"1.2","client_id":"3.4","events":[{"name":"x","params":{"a":1,"a":2}}]}'
    assert codes(debug(shared_sandbox, None, raw=raw)) == ["NAME_DUPLICATED", "NAME_DUPLICATED"]


def test_array_body_and_oversized_body_are_rejected(shared_sandbox: GA4Sandbox) -> None:
    """Several measurements in one request, or a body of 130 kB, are not accepted."""
    assert codes(debug(shared_sandbox, [{"client_id": "1.2", "events": [purchase()]}])) == [
        "VALUE_INVALID"
    ]
    big = {"client_id": "1.2", "events": [purchase(note="x" * 99)], "pad": "y" * 130_000}
    assert codes(debug(shared_sandbox, big)) == ["VALUE_OUT_OF_BOUNDS"]


@pytest.mark.parametrize(
    ("offset", "ok"),
    [
        (timedelta(hours=71, minutes=59), True),
        (timedelta(hours=72), True),
        (timedelta(hours=72, seconds=1), False),
        (-timedelta(seconds=1), False),
    ],
)
def test_timestamp_window_is_72_hours_back_and_never_ahead(
    shared_sandbox: GA4Sandbox, offset: timedelta, ok: bool
) -> None:
    """timestamp_micros may be at most 72 h old and not in the future, request- or event-level."""
    micros = NOW_MICROS - offset // timedelta(microseconds=1)
    request_level = {"client_id": "1.2", "timestamp_micros": micros, "events": [purchase()]}
    event_level = {"client_id": "1.2", "events": [{**purchase(), "timestamp_micros": micros}]}
    for body in (request_level, event_level):
        messages = debug(shared_sandbox, body)
        assert codes(messages) == ([] if ok else ["VALUE_OUT_OF_BOUNDS"])


def test_every_reserved_name_the_adapter_knows_is_reserved_in_the_sandbox(
    shared_sandbox: GA4Sandbox,
) -> None:
    """Adapter and emulator agree on GA4's reserved event names."""
    events = [{"name": name} for name in sorted(RESERVED_EVENTS)]
    for start in range(0, len(events), 25):
        chunk = events[start : start + 25]
        assert codes(debug(shared_sandbox, {"client_id": "1.2", "events": chunk})) == [
            "NAME_RESERVED"
        ] * len(chunk)


def test_debug_stores_nothing(sandbox: GA4Sandbox) -> None:
    """The validation server never records events, even valid ones."""
    debug(sandbox, {"client_id": "1.2", "events": [purchase()]})
    assert sandbox.accepted == []
    assert sandbox.debug_requests == 1


def test_collect_keeps_a_valid_purchase(sandbox: GA4Sandbox) -> None:
    """A valid purchase is answered 204 and recorded with its fields."""
    body = {
        "client_id": "1.2",
        "user_id": "crm-7",
        "consent": {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"},
        "events": [{**purchase(session_id="55"), "timestamp_micros": NOW_MICROS}],
    }
    assert collect(sandbox, body).status_code == 204
    [kept] = sandbox.accepted
    assert kept["transaction_id"] == "T-1"
    assert (kept["value"], kept["currency"], kept["client_id"]) == (10.5, "USD", "1.2")
    assert (kept["session_id"], kept["timestamp_micros"], kept["user_id"]) == (
        "55",
        NOW_MICROS,
        "crm-7",
    )
    assert kept["consent"] == {"ad_user_data": "GRANTED", "ad_personalization": "DENIED"}


@pytest.mark.parametrize(
    "body",
    [
        {"events": [purchase()]},
        {"client_id": "1.2", "events": [purchase()] * 26},
        {"client_id": "1.2", "events": [{"name": "first_visit"}]},
        {
            "client_id": "1.2",
            "timestamp_micros": NOW_MICROS - 73 * 3600 * 10**6,
            "events": [{"name": "x"}],
        },
    ],
)
def test_collect_answers_2xx_yet_drops_invalid_measurements(
    sandbox: GA4Sandbox, body: dict[str, Any]
) -> None:
    """Like Google, /mp/collect never says no, and keeps nothing invalid."""
    assert collect(sandbox, body).status_code == 204
    assert sandbox.accepted == []
    assert sandbox.dropped[-1]["reason"] == "invalid measurement"


def test_collect_drops_wrong_secret_and_unknown_stream_silently(sandbox: GA4Sandbox) -> None:
    """A wrong api_secret or measurement_id is answered 2xx and nothing is kept."""
    body = {"client_id": "1.2", "events": [purchase()]}
    assert collect(sandbox, body, secret="wrong").status_code == 204
    response = requests.post(
        f"{sandbox.url}/mp/collect",
        params={"measurement_id": "G-OTHER", "api_secret": sandbox.api_secret},
        json=body,
        timeout=5,
    )
    assert response.status_code == 204
    assert sandbox.accepted == []
    assert [d["reason"] for d in sandbox.dropped] == ["wrong api_secret", "unknown measurement_id"]


def test_added_stream_accepts_with_its_own_secret(sandbox: GA4Sandbox) -> None:
    """add_stream registers another property's measurement ID and secret."""
    sandbox.add_stream("G-SECOND", "s2")
    response = requests.post(
        f"{sandbox.url}/mp/collect",
        params={"measurement_id": "G-SECOND", "api_secret": "s2"},
        json={"client_id": "1.2", "events": [purchase()]},
        timeout=5,
    )
    assert response.status_code == 204
    assert [a["measurement_id"] for a in sandbox.accepted] == ["G-SECOND"]


def test_purchase_dedups_on_transaction_id(sandbox: GA4Sandbox) -> None:
    """A resent purchase (same transaction_id) is kept once; other events are not deduped."""
    for _ in range(2):
        collect(sandbox, {"client_id": "1.2", "events": [purchase("T-9"), {"name": "lead"}]})
    collect(sandbox, {"client_id": "3.4", "events": [purchase("T-9"), purchase("T-10")]})
    kept = [(a["name"], a["transaction_id"]) for a in sandbox.accepted]
    assert kept == [("purchase", "T-9"), ("lead", None), ("lead", None), ("purchase", "T-10")]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("user_id", ["NAME_RESERVED"]),
        ("first_open_time", ["NAME_RESERVED"]),
        ("ga_segment", ["NAME_RESERVED"]),
        ("firebase_x", ["NAME_RESERVED"]),
        ("plan_tier", []),
    ],
)
def test_reserved_user_property_names_are_refused(
    shared_sandbox: GA4Sandbox, name: str, expected: list[str]
) -> None:
    """GA4 reserves some user property names and prefixes; others pass."""
    body = {"client_id": "1.2", "user_properties": {name: {"value": "x"}}, "events": [purchase()]}
    assert codes(debug(shared_sandbox, body)) == expected
