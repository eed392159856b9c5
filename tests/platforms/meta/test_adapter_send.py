"""MetaDestination.send against the Graph sandbox, through the facebook-business SDK."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi

from connector.config.models import MetaSettings
from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import Accepted, Identifiers, NotValidated, Prepared, Rejected, Retry
from platforms.meta.adapter import MetaDestination
from platforms.meta.sandbox import SUB_BAD_VALUE, SUB_TOO_OLD, MetaSandbox
from platforms.sandbox_kit import Fault, FaultPlan


@pytest.fixture
def destination(meta_settings):
    """A live destination pointing at the module's sandbox."""
    dest = MetaDestination(meta_settings, timeout=10)
    yield dest
    dest.close()


@pytest.fixture
def prepared(destination, make_conversion, now):
    """Prepare n fresh conversions."""

    def build(n: int) -> list[Prepared[Event]]:
        items = [destination.prepare(make_conversion(), now) for _ in range(n)]
        assert all(isinstance(i, Prepared) for i in items)
        return items

    return build


def poisoned(item: Prepared[Event], **user: str) -> Prepared[Event]:
    """A copy whose payload carries a value Meta rejects (as if prepare had a gap)."""
    event = item.payload
    bad = Event(
        event_name=event.event_name,
        event_time=event.event_time,
        event_id=event.event_id,
        action_source=event.action_source,
        user_data=UserData(emails=event.user_data.emails, **user),
        custom_data=event.custom_data,
    )
    return Prepared(item.conversion, bad)


def test_batch_accepted_with_trace_ref(destination, prepared, sandbox):
    """A valid batch is one request; every item is Accepted with Meta's fbtrace_id."""
    batch = prepared(3)
    outcomes = destination.send(batch)
    assert all(isinstance(o, Accepted) and o.ref for o in outcomes)
    assert sandbox.requests == 1
    assert [e["event_id"] for e in sandbox.accepted] == [p.conversion.dedup_key for p in batch]
    assert sandbox.accepted[0]["value"] == 120.5 and sandbox.accepted[0]["currency"] == "usd"


def test_resend_is_counted_once(destination, prepared, sandbox):
    """Sending the same batch twice (unknown outcome) is harmless: Meta dedups on event_id."""
    batch = prepared(2)
    destination.send(batch)
    destination.send(batch)
    assert len(sandbox.accepted) == 2


def test_validate_without_test_event_code_posts_nothing(meta_settings, prepared, sandbox):
    """Meta has no validate-only mode: without a configured test code nothing is posted."""
    dry = MetaDestination(meta_settings, dry_run=True)
    outcomes = dry.validate(prepared(2))
    assert all(isinstance(o, NotValidated) for o in outcomes)
    with pytest.raises(PermanentPlatformError):
        dry.send(prepared(1))  # a dry-run adapter never posts real events either
    assert sandbox.requests == 0 and sandbox.accepted == [] and sandbox.test_events == []


def test_validate_uses_the_configured_test_event_code(meta_settings, prepared, sandbox):
    """With a test code, events are checked by Meta and kept apart from the real ones."""
    configured = meta_settings.model_copy(update={"test_event_code": "TEST42"})
    batch = prepared(3)
    batch[1] = poisoned(batch[1], fbp="not-an-fbp")
    outcomes = MetaDestination(configured).validate(batch)
    assert [type(o) for o in outcomes] == [Accepted, Rejected, Accepted]
    assert sandbox.accepted == []
    assert [e["test_event_code"] for e in sandbox.test_events] == ["TEST42", "TEST42"]


def test_bisection_isolates_one_bad_event_in_1000(destination, prepared, sandbox):
    """One bad event in 1,000 is Rejected with Meta's message; 999 pass in <= 2·log2 n + 1 calls."""
    batch = prepared(1000)
    batch[613] = poisoned(batch[613], fbp="not-an-fbp")
    outcomes = destination.send(batch)
    assert outcomes[613] == Rejected(
        f"100/{SUB_BAD_VALUE}",
        "Invalid fbp Parameter: user_data.fbp must look like "
        "fb.<subdomainIndex>.<creation time ms>.<random number>.",
    )
    assert sum(isinstance(o, Accepted) for o in outcomes) == 999
    assert len(sandbox.accepted) == 999
    assert batch[613].conversion.dedup_key not in {e["event_id"] for e in sandbox.accepted}
    assert sandbox.requests <= 2 * math.ceil(math.log2(1000)) + 1


def test_bisection_isolates_an_old_event(destination, prepared, sandbox, now):
    """An event that turned 7 days old after prepare fails alone, with Meta's reason."""
    batch = prepared(8)
    old = batch[2].payload
    old.event_time = int((now - timedelta(days=8)).timestamp())
    outcomes = destination.send(batch)
    assert isinstance(outcomes[2], Rejected) and outcomes[2].code == f"100/{SUB_TOO_OLD}"
    assert "Event Timestamp Too Old" in outcomes[2].message
    assert len(sandbox.accepted) == 7


def test_single_bad_event_rejected_in_one_request(destination, prepared, sandbox):
    """A batch of one bad event is rejected without extra requests."""
    outcomes = destination.send([poisoned(prepared(1)[0], lead_id="123")])
    assert isinstance(outcomes[0], Rejected)
    assert sandbox.requests == 1


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        (Fault.RATE_LIMIT, "4"),
        (Fault.SERVER_ERROR, "2"),
        (Fault.UNAVAILABLE, "2"),
        (Fault.DROP, "connection"),
    ],
)
def test_transient_errors_are_retryable(make_conversion, now, clock, fault, code):
    """429/code 4, 5xx/code 2 and dropped connections raise RetryablePlatformError with a hint."""
    with MetaSandbox(FaultPlan(script={1: fault}), clock=lambda: clock["now"]) as sb:
        dest = MetaDestination(MetaSettings(**sb.platform_config()), timeout=10)
        batch = [dest.prepare(make_conversion(), now)]
        with pytest.raises(RetryablePlatformError) as info:
            dest.send(batch)
        assert info.value.code == code
        assert info.value.platform == "meta"
        assert info.value.retry_after and info.value.retry_after > 0
        assert sb.accepted == []
        assert isinstance(dest.send(batch)[0], Accepted)
        dest.close()


def test_rate_limit_hint_from_usage_header(make_conversion, now, clock):
    """The retry hint follows Graph's estimated_time_to_regain_access (minutes)."""
    plan = FaultPlan(script={1: Fault.RATE_LIMIT}, retry_after_seconds=300)
    with MetaSandbox(plan, clock=lambda: clock["now"]) as sb:
        dest = MetaDestination(MetaSettings(**sb.platform_config()), timeout=10)
        with pytest.raises(RetryablePlatformError) as info:
            dest.send([dest.prepare(make_conversion(), now)])
        assert info.value.retry_after == 300
        dest.close()


def test_lost_response_then_resend_counts_once(make_conversion, now, clock):
    """Meta kept the events but the answer was lost: retry, and the resend is deduplicated."""
    with MetaSandbox(FaultPlan(script={1: Fault.LOST_RESPONSE}), clock=lambda: clock["now"]) as sb:
        dest = MetaDestination(MetaSettings(**sb.platform_config()), timeout=10)
        batch = [dest.prepare(make_conversion(), now)]
        with pytest.raises(RetryablePlatformError):
            dest.send(batch)
        assert isinstance(dest.send(batch)[0], Accepted)
        assert len(sb.accepted) == 1
        dest.close()


def test_transient_error_during_bisection_keeps_accepted(make_conversion, now, clock):
    """A fault mid-isolation returns Retry for unresolved items, Accepted for sent ones."""
    with MetaSandbox(FaultPlan(script={3: Fault.SERVER_ERROR}), clock=lambda: clock["now"]) as sb:
        dest = MetaDestination(MetaSettings(**sb.platform_config()), timeout=10)
        batch = [dest.prepare(make_conversion(), now) for _ in range(4)]
        batch[3] = poisoned(batch[3], fbc="bad")
        outcomes = dest.send(batch)
        # 1: whole batch fails on data; 2: [0, 1] accepted; 3: [2, 3] hits the fault.
        assert [type(o) for o in outcomes] == [Accepted, Accepted, Retry, Retry]
        assert outcomes[2].code == "2" and outcomes[2].after_seconds
        assert len(sb.accepted) == 2
        dest.close()


def test_bad_token_is_permanent_with_advice(sandbox, prepared):
    """Code 190 raises PermanentPlatformError telling the operator what to fix."""
    settings = MetaSettings(**{**sandbox.platform_config(), "access_token": "EAAB-revoked"})
    dest = MetaDestination(settings)
    with pytest.raises(PermanentPlatformError) as info:
        dest.send(prepared(2))
    assert info.value.code == "190"
    assert "platforms.meta.access_token" in str(info.value)
    assert "EAAB-revoked" not in str(info.value)
    assert sandbox.accepted == []


def test_unknown_pixel_is_permanent(sandbox, prepared):
    """A pixel the token cannot use raises PermanentPlatformError naming pixel_id."""
    dest = MetaDestination(MetaSettings(**{**sandbox.platform_config(), "pixel_id": "4242"}))
    with pytest.raises(PermanentPlatformError, match="pixel_id"):
        dest.send(prepared(1))


def test_two_configs_coexist_without_global_api(make_conversion, now, clock):
    """Two destinations with different Graph URLs and tokens each reach their own sandbox."""
    before = FacebookAdsApi.get_default_api()
    with (
        MetaSandbox(clock=lambda: clock["now"], access_token="EAAB-one") as one,
        MetaSandbox(clock=lambda: clock["now"], access_token="EAAB-two", pixel_id="777") as two,
    ):
        first = MetaDestination(MetaSettings(**one.platform_config()))
        second = MetaDestination(MetaSettings(**two.platform_config()))
        first.send([first.prepare(make_conversion(dedup_key="a"), now)])
        second.send([second.prepare(make_conversion(dedup_key="b"), now)])
        first.send([first.prepare(make_conversion(dedup_key="c"), now)])
        assert [e["event_id"] for e in one.accepted] == ["a", "c"]
        assert [(e["event_id"], e["pixel_id"]) for e in two.accepted] == [("b", "777")]
    assert FacebookAdsApi.get_default_api() is before


def test_fbc_from_click_time_reaches_meta(destination, make_conversion, email_hash, now, sandbox):
    """The fbc Meta receives carries the click time, not the upload time."""
    click = now - timedelta(days=2)
    ids = Identifiers(email_sha256=(email_hash,), fbclid="IwAR2Zz", click_time=click)
    destination.send([destination.prepare(make_conversion(identifiers=ids), now)])
    assert (
        sandbox.accepted[0]["user_data"]["fbc"] == f"fb.1.{int(click.timestamp() * 1000)}.IwAR2Zz"
    )


def test_crm_lead_event_reaches_meta(destination, make_conversion, email_hash, now, sandbox):
    """A CRM lead goes out with lead_id and custom_data event_source=crm, and Meta keeps it."""
    ids = Identifiers(email_sha256=(email_hash,), crm_lead_id="123456789012345")
    conversion = make_conversion(identifiers=ids, options={"event_name": "Lead"})
    assert isinstance(destination.send([destination.prepare(conversion, now)])[0], Accepted)
    kept = sandbox.accepted[0]
    assert kept["event_name"] == "Lead" and kept["user_data"]["lead_id"] == "123456789012345"
    assert kept["custom_data"]["event_source"] == "crm"
    assert kept["custom_data"]["lead_event_source"] == "HubSpot"


def test_two_bad_events_both_isolated(destination, prepared, sandbox):
    """Two bad events are each rejected; all others are accepted."""
    batch = prepared(64)
    batch[5] = poisoned(batch[5], fbc="fb.1.2.x")
    batch[40] = poisoned(batch[40], lead_id="42")
    outcomes = destination.send(batch)
    assert [i for i, o in enumerate(outcomes) if isinstance(o, Rejected)] == [5, 40]
    assert len(sandbox.accepted) == 62


class _SmallBudget(MetaDestination):
    MAX_ISOLATION_REQUESTS = 5


def test_isolation_budget_bounds_requests(meta_settings, prepared, sandbox):
    """When every event is bad, isolation stops at its budget and the rest retry later."""
    dest = _SmallBudget(meta_settings)
    batch = [poisoned(p, fbp="bad") for p in prepared(16)]
    outcomes = dest.send(batch)
    assert sandbox.requests <= 5
    assert all(isinstance(o, Rejected | Retry) for o in outcomes)
    assert any(isinstance(o, Retry) and o.code == "isolation_budget" for o in outcomes)
    assert sandbox.accepted == []


def test_unusable_graph_url_is_permanent(meta_settings, prepared):
    """A graph_url without a scheme is a configuration error, not something to retry."""
    dest = MetaDestination(meta_settings.model_copy(update={"graph_url": "graph.example"}))
    with pytest.raises(PermanentPlatformError, match="graph_url"):
        dest.send(prepared(1))
