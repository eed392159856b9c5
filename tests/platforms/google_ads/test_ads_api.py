"""AdsApiUploader turns Google Ads API answers into per-row outcomes and request errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta, timezone
from decimal import Decimal

import pytest

from connector.config.models import GoogleAdsSettings
from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import RESTATEMENT, RETRACTION, Accepted, PlannedConversion, Rejected, Retry
from platforms.google_ads.ads_api import AdsApiUploader, format_date_time
from platforms.google_ads.sandbox.ads import GoogleAdsApiServer
from platforms.sandbox_kit import Fault, FaultPlan
from tests.platforms.google_ads.ads_fixtures import (
    CUSTOMER,
    EMAIL_HASH,
    NOW,
    Clock,
    ads_server,
    api_settings,
    clock,
    faults,
    make_planned,
    seed_clicks,
)

__all__ = ["ads_server", "api_settings", "clock", "faults", "make_planned"]

Make = Callable[..., PlannedConversion]


@pytest.fixture
def uploader(api_settings: GoogleAdsSettings, clock: Clock) -> Iterator[AdsApiUploader]:
    """The uploader on the emulator, sharing its clock."""
    made = AdsApiUploader(api_settings, timeout=5.0, clock=clock)
    yield made
    made.close()


def test_partial_failure_outcomes_follow_row_order(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """Rows 0 and 2 rejected with Google's codes, row 1 accepted under its order ID."""
    unknown, good, expired = make_planned(), make_planned(), make_planned()
    seed_clicks(ads_server, good)
    ads_server.add_click(expired.identifiers.gclid or "", NOW - timedelta(days=45))
    expired = replace(expired, event_time=NOW - timedelta(days=2))
    outcomes = uploader.upload_click_conversions([unknown, good, expired], validate_only=False)
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "EVENT_NOT_FOUND"
    assert outcomes[1] == Accepted(ref=good.dedup_key)
    assert isinstance(outcomes[2], Rejected) and outcomes[2].code == "EXPIRED_EVENT"
    assert "click-through window" in outcomes[2].message
    assert [c["order_id"] for c in ads_server.accepted] == [good.dedup_key]


def test_payload_carries_value_time_offset_and_identifiers(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """Value, currency, order ID and the event time in its own offset reach Google."""
    plus_two = timezone(timedelta(hours=2))
    item = make_planned(
        event_time=(NOW - timedelta(days=1)).astimezone(plus_two),
        value=Decimal("99.99"),
        identifiers=replace(
            make_planned().identifiers, email_sha256=(EMAIL_HASH,), consent_ad_user_data=True
        ),
    )
    seed_clicks(ads_server, item)
    assert uploader.upload_click_conversions([item], validate_only=False) == [
        Accepted(ref=item.dedup_key)
    ]
    [kept] = ads_server.accepted
    assert kept["conversion_date_time"] == "2026-11-19 14:00:00+02:00"
    assert (kept["value"], kept["currency"], kept["order_id"]) == (99.99, "EUR", item.dedup_key)


def test_conversion_action_option_overrides_the_setting(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """``options.conversion_action_id`` picks the action instead of the configured one."""
    ads_server.add_conversion_action(CUSTOMER, "800000009")
    item = make_planned(options={"conversion_action_id": "800000009"})
    seed_clicks(ads_server, item)
    uploader.upload_click_conversions([item], validate_only=False)
    assert ads_server.accepted[0]["conversion_action_id"] == "800000009"
    missing = make_planned(options={"conversion_action_id": "404"})
    seed_clicks(ads_server, missing)
    [outcome] = uploader.upload_click_conversions([missing], validate_only=False)
    assert isinstance(outcome, Rejected) and outcome.code == "NO_CONVERSION_ACTION_FOUND"


def test_not_allowlisted_raises_one_actionable_error(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE is one PermanentPlatformError naming the fix."""
    ads_server.add_customer(CUSTOMER, allowlisted=False)
    batch = [make_planned() for _ in range(3)]
    seed_clicks(ads_server, *batch)
    with pytest.raises(PermanentPlatformError) as raised:
        uploader.upload_click_conversions(batch, validate_only=False)
    assert raised.value.code == "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE"
    assert "platforms.google_ads.api: data_manager" in str(raised.value)
    assert raised.value.platform == "google_ads"
    assert ads_server.requests == 1


def test_validate_only_accepts_nothing_for_real(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """validate_only: good rows are marked validated, bad ones rejected, nothing kept."""
    good, bad = make_planned(), make_planned()
    seed_clicks(ads_server, good)
    outcomes = uploader.upload_click_conversions([good, bad], validate_only=True)
    assert outcomes[0] == Accepted(ref=None, diagnostics={"validate_only": True})
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == "EVENT_NOT_FOUND"
    assert ads_server.accepted == []


@pytest.mark.parametrize(
    "faults", [FaultPlan(script={1: Fault.RATE_LIMIT}, retry_after_seconds=42)]
)
def test_rate_limit_is_retryable_after_googles_delay(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """RESOURCE_TEMPORARILY_EXHAUSTED becomes RetryablePlatformError(retry_after=42)."""
    item = make_planned()
    seed_clicks(ads_server, item)
    with pytest.raises(RetryablePlatformError) as raised:
        uploader.upload_click_conversions([item], validate_only=False)
    assert raised.value.retry_after == 42.0
    assert raised.value.code == "RESOURCE_TEMPORARILY_EXHAUSTED"


def test_daily_quota_is_retryable_until_the_reset(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """The daily operations quota retries after Google's delay (Pacific midnight)."""
    ads_server.daily_operations = 0
    with pytest.raises(RetryablePlatformError) as raised:
        uploader.upload_click_conversions([make_planned()], validate_only=False)
    assert raised.value.code == "RESOURCE_EXHAUSTED"
    assert raised.value.retry_after == 20 * 3600.0


@pytest.mark.parametrize(
    "faults",
    [
        FaultPlan(script={1: Fault.SERVER_ERROR}),
        FaultPlan(script={1: Fault.UNAVAILABLE}),
        FaultPlan(script={1: Fault.TIMEOUT}, timeout_seconds=3.0),
    ],
    ids=["internal", "unavailable", "deadline"],
)
def test_outages_are_retryable(
    api_settings: GoogleAdsSettings, clock: Clock, make_planned: Make
) -> None:
    """INTERNAL, UNAVAILABLE and a missed deadline all mean "send again later"."""
    uploader = AdsApiUploader(api_settings, timeout=0.5, clock=clock)
    with pytest.raises(RetryablePlatformError):
        uploader.upload_click_conversions([make_planned()], validate_only=False)


@pytest.mark.parametrize("faults", [FaultPlan(script={1: Fault.LOST_RESPONSE})])
def test_resend_after_a_lost_response_counts_once(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """The lost answer is retryable; the resend is accepted as already recorded, kept once."""
    item = make_planned()
    seed_clicks(ads_server, item)
    with pytest.raises(RetryablePlatformError):
        uploader.upload_click_conversions([item], validate_only=False)
    [outcome] = uploader.upload_click_conversions([item], validate_only=False)
    assert outcome == Accepted(
        ref=item.dedup_key, diagnostics={"already_recorded": "ORDER_ID_ALREADY_IN_USE"}
    )
    assert len(ads_server.accepted) == 1


def test_too_recent_click_is_retried_when_six_hours_have_passed(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """TOO_RECENT_EVENT is a per-row Retry timed for the click's sixth hour."""
    fresh = make_planned(
        identifiers=replace(make_planned().identifiers, click_time=NOW - timedelta(hours=2)),
        event_time=NOW - timedelta(hours=1),
    )
    seed_clicks(ads_server, fresh)
    [outcome] = uploader.upload_click_conversions([fresh], validate_only=False)
    assert outcome == Retry("TOO_RECENT_EVENT", outcome.message, 4 * 3600.0)


def test_wrong_developer_token_is_permanent_and_says_what_to_fix(
    api_settings: GoogleAdsSettings, clock: Clock, make_planned: Make
) -> None:
    """DEVELOPER_TOKEN_INVALID names platforms.google_ads.developer_token."""
    settings = api_settings.model_copy(update={"developer_token": "wrong"})
    settings = GoogleAdsSettings.model_validate(settings.model_dump())
    with pytest.raises(PermanentPlatformError) as raised:
        AdsApiUploader(settings, clock=clock).upload_click_conversions(
            [make_planned()], validate_only=False
        )
    assert raised.value.code == "DEVELOPER_TOKEN_INVALID"
    assert "platforms.google_ads.developer_token" in str(raised.value)


def test_revoked_refresh_token_is_permanent(
    api_settings: GoogleAdsSettings, clock: Clock, make_planned: Make
) -> None:
    """A refresh token the token endpoint refuses is a config problem, not an outage."""
    raw = api_settings.model_dump()
    raw["developer_token"] = "sandbox-developer-token"
    raw["credentials"]["refresh_token"] = "revoked"
    raw["credentials"]["client_secret"] = "sandbox-secret"
    settings = GoogleAdsSettings.model_validate(raw)
    with pytest.raises(PermanentPlatformError) as raised:
        AdsApiUploader(settings, clock=clock).upload_click_conversions(
            [make_planned()], validate_only=False
        )
    assert "platforms.google_ads.credentials" in str(raised.value)


def test_restatement_and_retraction_adjust_the_stored_conversion(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make, clock: Clock
) -> None:
    """A restatement sets the new value; a later retraction withdraws the conversion."""
    original = make_planned()
    seed_clicks(ads_server, original)
    uploader.upload_click_conversions([original], validate_only=False)
    restate = replace(
        original,
        kind=RESTATEMENT,
        dedup_key=f"{original.dedup_key}-rs1",
        adjusts_key=original.dedup_key,
        value=Decimal("80.00"),
    )
    assert uploader.upload_adjustments([restate], validate_only=False) == [
        Accepted(ref=restate.dedup_key)
    ]
    assert ads_server.accepted[0]["value"] == 80.0
    clock.now = NOW + timedelta(hours=1)
    retract = replace(
        original,
        kind=RETRACTION,
        dedup_key=f"{original.dedup_key}-rt1",
        adjusts_key=original.dedup_key,
    )
    assert uploader.upload_adjustments([retract], validate_only=False) == [
        Accepted(ref=retract.dedup_key)
    ]
    [kept] = ads_server.accepted
    assert (kept["restated"], kept["retracted"], kept["value"]) == (True, True, 80.0)
    # A resend of the retraction (say after a lost answer) is already done, not a failure.
    clock.now = NOW + timedelta(hours=2)
    assert uploader.upload_adjustments([retract], validate_only=False) == [
        Accepted(
            ref=retract.dedup_key, diagnostics={"already_recorded": "CONVERSION_ALREADY_RETRACTED"}
        )
    ]


def test_adjustments_past_54_days_are_rejected(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make, clock: Clock
) -> None:
    """A restatement 55 days after the conversion is Rejected(CONVERSION_EXPIRED)."""
    original = make_planned()
    seed_clicks(ads_server, original)
    uploader.upload_click_conversions([original], validate_only=False)
    clock.now = original.event_time + timedelta(days=55)
    restate = replace(
        original, kind=RESTATEMENT, adjusts_key=original.dedup_key, value=Decimal("1")
    )
    [outcome] = uploader.upload_adjustments([restate], validate_only=False)
    assert isinstance(outcome, Rejected) and outcome.code == "CONVERSION_EXPIRED"
    assert ads_server.accepted[0]["value"] == 120.5


def test_adjustment_outcomes_keep_batch_positions(
    uploader: AdsApiUploader, ads_server: GoogleAdsApiServer, make_planned: Make
) -> None:
    """Unsendable rows and unknown orders are rejected in place; the rest are applied."""
    original = make_planned()
    seed_clicks(ads_server, original)
    uploader.upload_click_conversions([original], validate_only=False)
    not_adjustment = make_planned()
    unknown = replace(original, kind=RETRACTION, adjusts_key="deal-404-won")
    good = replace(original, kind=RETRACTION, adjusts_key=original.dedup_key)
    outcomes = uploader.upload_adjustments([not_adjustment, unknown, good], validate_only=False)
    assert isinstance(outcomes[0], Rejected) and outcomes[0].code == "NOT_AN_ADJUSTMENT"
    assert isinstance(outcomes[1], Rejected) and outcomes[1].code == "CONVERSION_NOT_FOUND"
    assert outcomes[2] == Accepted(ref=good.dedup_key)
    assert ads_server.accepted[0]["retracted"] is True


def test_date_times_use_googles_format_with_the_offset() -> None:
    """yyyy-mm-dd hh:mm:ss+hh:mm, in the moment's own offset; naive times count as UTC."""
    assert format_date_time(NOW) == "2026-11-20 12:00:00+00:00"
    minus_five = timezone(timedelta(hours=-5, minutes=-30))
    assert format_date_time(NOW.astimezone(minus_five)) == "2026-11-20 06:30:00-05:30"
    assert format_date_time(NOW.replace(tzinfo=None)) == "2026-11-20 12:00:00+00:00"
