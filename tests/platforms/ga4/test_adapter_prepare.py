"""GA4Destination.prepare: the purchase payload and every reason it declines (pure)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from connector.config.models import GA4Settings
from platforms.base import RESTATEMENT, RETRACTION, PlannedConversion, Prepared, Skip
from platforms.ga4.adapter import GA4Destination

from .conftest import NOW

Build = Callable[..., PlannedConversion]


@pytest.fixture
def adapter() -> GA4Destination:
    """An adapter that is never asked to send (prepare is pure)."""
    return GA4Destination(GA4Settings(measurement_id="G-X", api_secret="s"))


def prepared(result: object) -> Prepared:
    assert isinstance(result, Prepared), result
    return result


def test_purchase_carries_value_currency_and_dedup_key(
    adapter: GA4Destination, conversion: Build
) -> None:
    """The deal's dedup key becomes transaction_id, next to value and currency."""
    payload = prepared(adapter.prepare(conversion(3, value="1234.56", currency="eur"), NOW)).payload
    assert payload.request == {"client_id": "111.222"}
    assert payload.event["name"] == "purchase"
    assert payload.event["params"] == {
        "currency": "EUR",
        "value": 1234.56,
        "transaction_id": "hubspot-deal-3",
    }


def test_event_name_comes_from_options_then_settings(conversion: Build) -> None:
    """A mapping option overrides settings.event_name, which overrides 'purchase'."""
    adapter = GA4Destination(GA4Settings(event_name="close_convert_lead"))
    assert (
        prepared(adapter.prepare(conversion(), NOW)).payload.event["name"] == "close_convert_lead"
    )
    custom = conversion(options={"event_name": "qualify_lead"})
    assert prepared(adapter.prepare(custom, NOW)).payload.event["name"] == "qualify_lead"


def test_missing_client_id_is_skipped_with_reason(
    adapter: GA4Destination, conversion: Build
) -> None:
    """Without a _ga client ID GA4 cannot take the event: Skip, saying why."""
    result = adapter.prepare(conversion(client_id=None), NOW)
    assert result == Skip(
        "missing_client_id", "no GA client ID: the visitor was never seen with a _ga cookie"
    )


def test_session_id_brings_engagement_time(adapter: GA4Destination, conversion: Build) -> None:
    """A known session adds session_id and engagement_time_msec (session-scoped reports)."""
    params = prepared(adapter.prepare(conversion(session_id="1732000000"), NOW)).payload.event[
        "params"
    ]
    assert params["session_id"] == "1732000000"
    assert params["engagement_time_msec"] > 0
    bare = prepared(adapter.prepare(conversion(), NOW)).payload.event["params"]
    assert "session_id" not in bare and "engagement_time_msec" not in bare


def test_timestamp_only_within_72_hours(adapter: GA4Destination, conversion: Build) -> None:
    """Recent events carry timestamp_micros; older ones omit it and say so in the notes."""
    recent = prepared(adapter.prepare(conversion(age=timedelta(hours=70)), NOW)).payload
    expected = int((NOW - timedelta(hours=70)).timestamp()) * 1_000_000
    assert recent.event["timestamp_micros"] == expected
    assert recent.notes == ()
    old = prepared(adapter.prepare(conversion(age=timedelta(hours=80)), NOW)).payload
    assert "timestamp_micros" not in old.event
    assert "72-hour" in old.notes[0]
    edge = prepared(adapter.prepare(conversion(age=timedelta(hours=71, minutes=59)), NOW)).payload
    assert "timestamp_micros" not in edge.event  # inside the margin: it could age out in transit


def test_user_id_only_when_enabled(conversion: Build) -> None:
    """user_id is sent only with send_user_id and a known external id."""
    with_id = conversion(external_id="crm-42")
    off = GA4Destination(GA4Settings())
    on = GA4Destination(GA4Settings(send_user_id=True))
    assert "user_id" not in prepared(off.prepare(with_id, NOW)).payload.request
    assert prepared(on.prepare(with_id, NOW)).payload.request["user_id"] == "crm-42"
    assert "user_id" not in prepared(on.prepare(conversion(), NOW)).payload.request


def test_consent_maps_to_granted_and_denied(adapter: GA4Destination, conversion: Build) -> None:
    """Consent flags become GA4's GRANTED/DENIED; unknown consent is left out."""
    given = conversion(consent_ad_user_data=True, consent_ad_personalization=False)
    assert prepared(adapter.prepare(given, NOW)).payload.request["consent"] == {
        "ad_user_data": "GRANTED",
        "ad_personalization": "DENIED",
    }
    assert "consent" not in prepared(adapter.prepare(conversion(), NOW)).payload.request


@pytest.mark.parametrize("kind", [RESTATEMENT, RETRACTION])
def test_adjustments_are_unsupported(adapter: GA4Destination, conversion: Build, kind: str) -> None:
    """GA4 has no adjustment API: restatements and retractions are skipped with a reason."""
    result = adapter.prepare(conversion(kind=kind), NOW)
    assert isinstance(result, Skip)
    assert result.code == "unsupported_adjustment"
    assert "no API" in result.reason


@pytest.mark.parametrize(
    ("options", "currency", "code"),
    [
        ({"event_name": "session_start"}, "USD", "NAME_RESERVED"),
        ({"event_name": "firebase_purchase"}, "USD", "NAME_RESERVED"),
        ({"event_name": "_purchase"}, "USD", "NAME_INVALID"),
        ({"event_name": "p" * 41}, "USD", "NAME_INVALID"),
        ({"params": {"google_x": "1"}}, "USD", "NAME_RESERVED"),
        ({"params": {"note": "n" * 101}}, "USD", "VALUE_OUT_OF_BOUNDS"),
        ({"params": {f"p{i}": i for i in range(23)}}, "USD", "EXCEEDED_MAX_ENTITIES"),
        ({}, "DOLLARS", "VALUE_INVALID"),
    ],
)
def test_local_validation_uses_ga4_codes(
    adapter: GA4Destination, conversion: Build, options: dict, currency: str, code: str
) -> None:
    """Limits GA4 would silently drop for are Skips with GA4's own validation code."""
    result = adapter.prepare(conversion(options=options, currency=currency), NOW)
    assert isinstance(result, Skip)
    assert result.code == code


def test_long_transaction_id_is_out_of_bounds(adapter: GA4Destination, conversion: Build) -> None:
    """A dedup key longer than a GA4 param value cannot be a transaction_id."""
    long_key = conversion()
    long_key = PlannedConversion(**{**long_key.__dict__, "dedup_key": "k" * 101})
    result = adapter.prepare(long_key, NOW)
    assert isinstance(result, Skip) and result.code == "VALUE_OUT_OF_BOUNDS"


def test_late_events_skip_skips_what_send_at_receipt_sends_undated(conversion: Build) -> None:
    """``late_events: skip`` skips an 80-hour-old event as late_event; recent ones still go."""
    skipping = GA4Destination(GA4Settings(late_events="skip"))
    assert GA4Settings().late_events == "send_at_receipt"
    late = skipping.prepare(conversion(age=timedelta(hours=80)), NOW)
    assert isinstance(late, Skip) and late.code == "late_event"
    assert "72-hour" in late.reason and "late_events" in late.reason
    edge = skipping.prepare(conversion(age=timedelta(hours=71, minutes=59)), NOW)
    assert isinstance(edge, Skip)  # inside the margin: it could age out in transit
    recent = prepared(skipping.prepare(conversion(age=timedelta(hours=70)), NOW)).payload
    assert "timestamp_micros" in recent.event
    ahead = prepared(skipping.prepare(conversion(age=-timedelta(hours=1)), NOW)).payload
    assert "timestamp_micros" not in ahead.event  # a future time is not late: sent undated


def test_late_events_rejects_unknown_choice() -> None:
    """Only the two documented choices are accepted."""
    with pytest.raises(ValueError, match="late_events"):
        GA4Settings(late_events="drop")
