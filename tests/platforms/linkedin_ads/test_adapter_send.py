"""LinkedInAdsDestination.send through its client to the Rest.li sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connector.config.models import LinkedInAdsSettings
from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import Accepted, NotValidated, Prepared, Rejected, Retry
from platforms.linkedin_ads.adapter import LinkedInAdsDestination
from platforms.sandbox_kit import Fault, FaultPlan


@pytest.fixture
def destination(li_settings):
    """A live destination pointing at the module's sandbox."""
    dest = LinkedInAdsDestination(li_settings, timeout=10)
    yield dest
    dest.close()


@pytest.fixture
def prepared(destination, make_conversion, now):
    """Prepare n fresh conversions."""

    def build(n: int) -> list[Prepared[dict]]:
        items = [destination.prepare(make_conversion(), now) for _ in range(n)]
        assert all(isinstance(i, Prepared) for i in items)
        return items

    return build


def _with(item: Prepared[dict], **changes: object) -> Prepared[dict]:
    """A copy whose element differs (as if prepare had a gap LinkedIn catches)."""
    return Prepared(item.conversion, {**item.payload, **changes})


def test_batch_accepted_in_one_request(destination, prepared, sandbox):
    """A valid batch is one BATCH_CREATE; LinkedIn keeps each event with its value string."""
    batch = prepared(3)
    outcomes = destination.send(batch)
    assert outcomes == [Accepted(ref=p.conversion.dedup_key) for p in batch]
    assert sandbox.requests == 1
    assert [a["key"] for a in sandbox.accepted] == [p.conversion.dedup_key for p in batch]
    kept = sandbox.accepted[0]
    assert (kept["kind"], kept["value"], kept["currency"]) == ("conversion", "1500.5", "USD")
    assert set(kept["user_ids"]) == {"SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"}


def test_resend_is_counted_once(destination, prepared, sandbox):
    """Sending a batch again (unknown outcome) is harmless: LinkedIn keeps one per eventId."""
    batch = prepared(2)
    destination.send(batch)
    assert all(isinstance(o, Accepted) for o in destination.send(batch))
    assert len(sandbox.accepted) == 2


def test_partial_failure_rejects_only_the_bad_elements(destination, prepared, sandbox):
    """LinkedIn answers per element: bad ones are Rejected with its code, the rest kept."""
    good, unhashed, unknown_rule, as_number = prepared(4)
    batch = [
        good,
        _with(unhashed, user={"userIds": [{"idType": "SHA256_EMAIL", "idValue": "a@b.com"}]}),
        _with(unknown_rule, conversion="urn:lla:llaPartnerConversion:999"),
        _with(as_number, conversionValue={"currencyCode": "USD", "amount": 1500.5}),
    ]
    outcomes = destination.send(batch)
    assert isinstance(outcomes[0], Accepted)
    assert [o.code for o in outcomes[1:]] == [
        "INVALID_SHA256_EMAIL",
        "CONVERSION_NOT_FOUND",
        "INVALID_AMOUNT",
    ]
    assert all(isinstance(o, Rejected) for o in outcomes[1:])
    assert [a["key"] for a in sandbox.accepted] == [good.conversion.dedup_key]
    assert {r["key"] for r in sandbox.rejected} == {p.conversion.dedup_key for p in batch[1:]}


def test_event_older_than_90_days_at_arrival_is_rejected(destination, prepared, sandbox, clock):
    """Prepared in time but arriving after 90 days: LinkedIn refuses that event only."""
    batch = prepared(1)
    clock["now"] += timedelta(days=90)
    assert [o.code for o in destination.send(batch)] == ["EVENT_TOO_OLD"]


def test_fail_item_permanent_and_transient(destination, prepared, sandbox):
    """The sandbox's per-element errors: 400 becomes Rejected, a 500 Retry that then passes."""
    first, second, third = prepared(3)
    sandbox.fail_item(first.conversion.dedup_key, permanent=True)
    sandbox.fail_item(second.conversion.dedup_key, permanent=False)
    outcomes = destination.send([first, second, third])
    assert isinstance(outcomes[0], Rejected)
    assert isinstance(outcomes[1], Retry) and outcomes[1].after_seconds
    assert isinstance(outcomes[2], Accepted)
    assert isinstance(destination.send([second])[0], Accepted)
    assert [a["key"] for a in sandbox.accepted] == [
        third.conversion.dedup_key,
        second.conversion.dedup_key,
    ]


def test_batching_at_the_maximum(destination, make_conversion, now, sandbox):
    """5,000 events go in one request; one more is refused before anything is sent."""
    batch = [destination.prepare(make_conversion(), now) for _ in range(5000)]
    assert all(isinstance(o, Accepted) for o in destination.send(batch))
    assert sandbox.requests == 1 and len(sandbox.accepted) == 5000
    extra = destination.prepare(make_conversion(), now)
    with pytest.raises(ValueError):
        destination.send([*batch, extra])
    assert sandbox.requests == 1


@pytest.mark.parametrize("fault", [Fault.RATE_LIMIT, Fault.SERVER_ERROR, Fault.UNAVAILABLE])
def test_throttling_and_outages_are_retried(destination, prepared, sandbox, fault):
    """429 and 5xx on the whole request: retry later, nothing kept."""
    sandbox.faults = FaultPlan(script={1: fault})
    with pytest.raises(RetryablePlatformError) as err:
        destination.send(prepared(2))
    assert err.value.retry_after and err.value.retry_after > 0
    assert sandbox.accepted == []


def test_lost_response_then_resend_keeps_one(destination, prepared, sandbox):
    """LinkedIn took the batch but the answer was lost: the resend is deduplicated."""
    batch = prepared(2)
    sandbox.faults = FaultPlan(script={1: Fault.LOST_RESPONSE})
    with pytest.raises(RetryablePlatformError):
        destination.send(batch)
    assert all(isinstance(o, Accepted) for o in destination.send(batch))
    assert len(sandbox.accepted) == 2


def test_invalid_token_is_permanent(li_settings, prepared, sandbox):
    """A revoked token without refresh credentials needs a human."""
    sandbox.revoke(sandbox.access_token)
    dest = LinkedInAdsDestination(li_settings, timeout=10)
    with pytest.raises(PermanentPlatformError) as err:
        dest.send(prepared(1))
    assert "rw_conversions" in str(err.value)


def test_token_without_the_scope_is_refused(sandbox, prepared):
    """A token that lacks rw_conversions gets LinkedIn's 403."""
    sandbox.add_token("AQV-read-only", {"r_ads"})
    settings = LinkedInAdsSettings(**{**sandbox.platform_config(), "access_token": "AQV-read-only"})
    with pytest.raises(PermanentPlatformError) as err:
        LinkedInAdsDestination(settings, timeout=10).send(prepared(1))
    assert err.value.code == "ACCESS_DENIED"


def test_expired_token_is_renewed_with_the_refresh_token(sandbox, prepared):
    """On 401 the client renews the token once at the OAuth endpoint and resends."""
    sandbox.revoke(sandbox.access_token)
    sandbox.add_refresh_token("AQX-refresh", "86client", "s3cret", {"rw_conversions"})
    settings = LinkedInAdsSettings(
        **sandbox.platform_config(),
        refresh_token="AQX-refresh",
        client_id="86client",
        client_secret="s3cret",
    )
    dest = LinkedInAdsDestination(settings, timeout=10)
    assert all(isinstance(o, Accepted) for o in dest.send(prepared(2)))
    assert sandbox.tokens_seen[0] == sandbox.access_token
    assert sandbox.tokens_seen[1] != sandbox.access_token
    assert sandbox.requests == 2  # the refresh itself is not an API request
    dest.send(prepared(1))
    assert sandbox.tokens_seen[2] == sandbox.tokens_seen[1]  # the new token is kept


def test_refused_refresh_is_permanent(sandbox, prepared):
    """A refresh token LinkedIn does not know: the error says to authorize again."""
    settings = LinkedInAdsSettings(
        **{**sandbox.platform_config(), "access_token": None},
        refresh_token="AQX-unknown",
        client_id="86client",
        client_secret="s3cret",
    )
    with pytest.raises(PermanentPlatformError) as err:
        LinkedInAdsDestination(settings, timeout=10).send(prepared(1))
    assert "refresh_token" in str(err.value)


def test_inactive_version_is_permanent(sandbox, prepared):
    """A LinkedIn-Version that is not active fails every request until the config changes."""
    settings = LinkedInAdsSettings(**{**sandbox.platform_config(), "api_version": "202712"})
    with pytest.raises(PermanentPlatformError) as err:
        LinkedInAdsDestination(settings, timeout=10).send(prepared(1))
    assert err.value.code == "NONEXISTENT_VERSION"
    assert "api_version" in str(err.value)


def test_unreachable_api_is_retried(sandbox, prepared):
    """No answer at all: retry (resending is safe, LinkedIn deduplicates on eventId)."""
    settings = LinkedInAdsSettings(
        **{**sandbox.platform_config(), "api_url": "http://127.0.0.1:9/rest"}
    )
    with pytest.raises(RetryablePlatformError) as err:
        LinkedInAdsDestination(settings, timeout=2).send(prepared(1))
    assert err.value.code == "connection"


def test_dry_run_posts_nothing(li_settings, prepared, sandbox):
    """LinkedIn has no validate-only mode: a dry run neither validates nor sends."""
    dry = LinkedInAdsDestination(li_settings, dry_run=True)
    assert all(isinstance(o, NotValidated) for o in dry.validate(prepared(2)))
    with pytest.raises(PermanentPlatformError):
        dry.send(prepared(1))
    assert sandbox.requests == 0 and sandbox.accepted == []
