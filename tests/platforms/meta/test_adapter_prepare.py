"""MetaDestination.prepare: the pure mapping and every reason to skip before sending."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from connector.config.models import MetaSettings
from platforms.base import Identifiers, Prepared, Skip, Wait
from platforms.meta.adapter import MetaDestination


@pytest.fixture
def destination() -> MetaDestination:
    """A destination that never talks to the network (prepare is pure)."""
    return MetaDestination(MetaSettings(pixel_id="1", access_token="EAAB-x"))


def wire(prepared) -> dict:
    """The JSON Meta receives for this payload."""
    assert isinstance(prepared, Prepared), prepared
    return prepared.payload.normalize()


def test_maps_conversion_to_server_event(destination, make_conversion, email_hash, now):
    """event_name, event_id = dedup key, close time in Unix seconds, value, currency, em/ph."""
    phone = hashlib.sha256(b"15551234567").hexdigest()
    ids = Identifiers(
        email_sha256=(email_hash,),
        phone_sha256=(phone,),
        external_id="contact-42",
        fbp="fb.1.1763600000000.987654321",
        user_agent="Mozilla/5.0",
        client_ip="203.0.113.9",
    )
    conversion = make_conversion(identifiers=ids, dedup_key="cl-deal-7")
    event = wire(destination.prepare(conversion, now))
    assert event["event_name"] == "Purchase"
    assert event["event_id"] == "cl-deal-7"
    assert event["event_time"] == int((now - timedelta(hours=1)).timestamp())
    assert event["action_source"] == "system_generated"
    assert event["custom_data"] == {"value": 120.5, "currency": "usd"}
    user = event["user_data"]
    assert user["em"] == [email_hash] and user["ph"] == [phone]
    assert user["external_id"] == ["contact-42"]
    assert user["fbp"] == "fb.1.1763600000000.987654321"
    assert (user["client_user_agent"], user["client_ip_address"]) == ("Mozilla/5.0", "203.0.113.9")


def test_event_name_from_mapping_options(destination, make_conversion, now):
    """A mapping profile's event_name option wins over settings.event_name."""
    conversion = make_conversion(options={"event_name": "QualifiedLead"})
    assert wire(destination.prepare(conversion, now))["event_name"] == "QualifiedLead"


@pytest.mark.parametrize("age", [timedelta(days=7), timedelta(days=6, hours=23, minutes=50)])
def test_old_events_are_skipped(destination, make_conversion, now, age):
    """Events at (or within 15 minutes of) Meta's 7-day limit never reach a batch."""
    result = destination.prepare(make_conversion(event_time=now - age), now)
    assert isinstance(result, Skip) and result.code == "event_too_old"


def test_event_inside_window_is_sent(destination, make_conversion, now):
    """An event inside the 7-day window (minus the margin) is prepared."""
    assert isinstance(
        destination.prepare(
            make_conversion(event_time=now - timedelta(days=6, hours=23, minutes=40)), now
        ),
        Prepared,
    )


def test_physical_store_allows_62_days(make_conversion, now):
    """With action_source physical_store the window is 62 days."""
    settings = MetaSettings(pixel_id="1", access_token="x", action_source="physical_store")
    destination = MetaDestination(settings)
    assert isinstance(
        destination.prepare(make_conversion(event_time=now - timedelta(days=30)), now), Prepared
    )
    old = destination.prepare(make_conversion(event_time=now - timedelta(days=62)), now)
    assert isinstance(old, Skip) and old.code == "event_too_old"


def test_future_event_waits(destination, make_conversion, now):
    """A close time in the future is not sent until it has passed."""
    later = now + timedelta(hours=2)
    result = destination.prepare(make_conversion(event_time=later), now)
    assert isinstance(result, Wait) and result.until == later


def test_fbc_built_from_click_time_not_now(destination, make_conversion, email_hash, now):
    """Without a captured _fbc cookie, fbc = fb.1.<click ms>.<fbclid>, fbclid case kept."""
    click = now - timedelta(days=3, minutes=17)
    ids = Identifiers(email_sha256=(email_hash,), fbclid="IwAR2AbC-x_9", click_time=click)
    fbc = wire(destination.prepare(make_conversion(identifiers=ids), now))["user_data"]["fbc"]
    assert fbc == f"fb.1.{int(click.timestamp() * 1000)}.IwAR2AbC-x_9"
    assert str(int(now.timestamp() * 1000)) not in fbc


def test_captured_fbc_is_kept(destination, make_conversion, now):
    """A captured _fbc cookie is sent as is, even when fbclid is also known."""
    ids = Identifiers(
        fbc="fb.2.1763000000000.IwAR2zz", fbclid="other", click_time=now - timedelta(days=1)
    )
    assert wire(destination.prepare(make_conversion(identifiers=ids), now))["user_data"]["fbc"] == (
        "fb.2.1763000000000.IwAR2zz"
    )


def test_fbclid_without_click_time_sends_no_fbc(destination, make_conversion, email_hash, now):
    """Without a click time there is no honest fbc, so none is sent."""
    ids = Identifiers(email_sha256=(email_hash,), fbclid="IwAR2AbC")
    assert (
        "fbc" not in wire(destination.prepare(make_conversion(identifiers=ids), now))["user_data"]
    )


def test_malformed_identifiers_are_dropped(destination, make_conversion, email_hash, now):
    """Identifiers Meta would reject (bad fbp, unhashed email) are left out, not sent."""
    ids = Identifiers(email_sha256=("plain@example.com", email_hash), fbp="fb.1.12.abc")
    user = wire(destination.prepare(make_conversion(identifiers=ids), now))["user_data"]
    assert user == {"em": [email_hash]}


def test_no_user_data_is_skipped(destination, make_conversion, now):
    """Without any match key the event is skipped with no_user_data."""
    ids = Identifiers(user_agent="Mozilla/5.0", crm_lead_id="12345")
    result = destination.prepare(make_conversion(identifiers=ids), now)
    assert isinstance(result, Skip) and result.code == "no_user_data"


def test_value_without_currency_is_skipped(destination, make_conversion, now):
    """A value with no currency cannot be sent to Meta."""
    result = destination.prepare(make_conversion(currency=""), now)
    assert isinstance(result, Skip) and result.code == "missing_currency"


@pytest.mark.parametrize("kind", ["restatement", "retraction"])
def test_adjustments_are_unsupported(destination, make_conversion, now, kind):
    """CAPI has no adjustments: restatements and retractions are skipped."""
    result = destination.prepare(make_conversion(kind=kind, adjusts_key="cl-deal-1"), now)
    assert isinstance(result, Skip) and result.code == "unsupported_adjustment"


def test_crm_lead_gets_lead_id_and_crm_source(destination, make_conversion, email_hash, now):
    """A Meta lead id (15-16 digits) adds user_data.lead_id and the CRM custom_data fields."""
    ids = Identifiers(email_sha256=(email_hash,), crm_lead_id="1234567890123456")
    event = wire(destination.prepare(make_conversion(identifiers=ids), now))
    assert event["user_data"]["lead_id"] == "1234567890123456"
    assert event["custom_data"]["event_source"] == "crm"
    assert event["custom_data"]["lead_event_source"] == "HubSpot"


def test_non_meta_lead_id_is_not_sent(destination, make_conversion, email_hash, now):
    """A HubSpot record id is not a Meta lead id and is not sent as one."""
    ids = Identifiers(email_sha256=(email_hash,), crm_lead_id="98765")
    event = wire(destination.prepare(make_conversion(identifiers=ids), now))
    assert "lead_id" not in event["user_data"]
    assert "event_source" not in event["custom_data"]


def test_website_source_needs_user_agent_and_url(make_conversion, email_hash, now):
    """With action_source website, a conversion without UA or page URL is skipped."""
    destination = MetaDestination(
        MetaSettings(pixel_id="1", access_token="x", action_source="website")
    )
    ids = Identifiers(email_sha256=(email_hash,), user_agent="Mozilla/5.0")
    result = destination.prepare(make_conversion(identifiers=ids), now)
    assert isinstance(result, Skip) and result.code == "missing_website_context"
    full = replace(ids, page_url="https://shop.example/thanks")
    event = wire(destination.prepare(make_conversion(identifiers=full), now))
    assert event["event_source_url"] == "https://shop.example/thanks"


def test_value_is_decimal_faithful(destination, make_conversion, now):
    """Decimal amounts arrive as the same number."""
    conversion = make_conversion(value=Decimal("1999.99"))
    assert wire(destination.prepare(conversion, now))["custom_data"]["value"] == 1999.99
