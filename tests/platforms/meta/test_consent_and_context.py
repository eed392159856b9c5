"""Meta honours consent, Limited Data Use and gets the browser context, through the sandbox."""

from __future__ import annotations

import pytest
from capi_param_builder import ParamBuilder
from facebook_business.exceptions import FacebookRequestError

from connector.config.models import MetaSettings
from platforms.base import Identifiers, Prepared, Skip
from platforms.meta.adapter import MetaDestination


@pytest.fixture
def make_destination(meta_settings):
    """A live destination on the sandbox with extra ``platforms.meta`` settings."""
    made = []

    def build(**overrides) -> MetaDestination:
        settings = MetaSettings(**{**meta_settings.model_dump(), **overrides})
        settings.access_token = meta_settings.access_token
        dest = MetaDestination(settings, timeout=10)
        made.append(dest)
        return dest

    yield build
    for dest in made:
        dest.close()


def builder_cookies() -> tuple[str, str]:
    """An _fbc and _fbp exactly as Meta's parameter builder writes them (with appendix)."""
    builder = ParamBuilder(["example.com"])
    builder.process_request("www.example.com", {"fbclid": ["IwAR2-abc_XYZ"]}, {})
    return builder.get_fbc(), builder.get_fbp()


def test_denied_ad_user_data_sends_nothing(make_destination, make_conversion, email_hash, now):
    """No hashed email/phone, no fbc/fbp for a person who denied ad_user_data: skipped."""
    fbc, fbp = builder_cookies()
    ids = Identifiers(email_sha256=(email_hash,), fbc=fbc, fbp=fbp, consent_ad_user_data=False)
    skipped = make_destination().prepare(make_conversion(identifiers=ids), now)
    assert isinstance(skipped, Skip) and skipped.code == "consent_denied"


@pytest.mark.parametrize("consent", [True, None])
def test_granted_or_unknown_consent_is_sent(
    make_destination, make_conversion, email_hash, now, sandbox, consent
):
    """Granted (or no signal, the site's default) sends the event with its identifiers."""
    ids = Identifiers(email_sha256=(email_hash,), consent_ad_user_data=consent)
    dest = make_destination()
    prepared = dest.prepare(make_conversion(identifiers=ids), now)
    assert isinstance(prepared, Prepared)
    dest.send([prepared])
    assert sandbox.accepted[0]["user_data"]["em"] == [email_hash]


def test_builder_cookies_with_appendix_reach_meta(make_destination, make_conversion, now, sandbox):
    """_fbc/_fbp written by Meta's parameter builder (appendix and all) are sent as they are."""
    fbc, fbp = builder_cookies()
    dest = make_destination()
    prepared = dest.prepare(make_conversion(identifiers=Identifiers(fbc=fbc, fbp=fbp)), now)
    dest.send([prepared])
    user = sandbox.accepted[0]["user_data"]
    assert (user["fbc"], user["fbp"]) == (fbc, fbp)


def test_limited_data_use_reaches_meta(make_destination, make_conversion, now, sandbox):
    """data_processing_options ['LDU'] with country/state go on every event."""
    dest = make_destination(
        data_processing_options=["LDU"],
        data_processing_options_country=1,
        data_processing_options_state=1000,
    )
    dest.send([dest.prepare(make_conversion(), now)])
    assert sandbox.accepted[0]["data_processing"] == {
        "options": ["LDU"],
        "options_country": 1,
        "options_state": 1000,
    }


def test_no_ldu_configured_sends_no_processing_fields(
    make_destination, make_conversion, now, sandbox
):
    """Without Limited Data Use nothing about it is sent."""
    dest = make_destination()
    dest.send([dest.prepare(make_conversion(), now)])
    assert sandbox.accepted[0]["data_processing"] == {}


def test_sandbox_refuses_unknown_processing_options(post_events, make_event):
    """Meta knows only 'LDU'; a country code without options is refused too."""
    with pytest.raises(FacebookRequestError):
        post_events([make_event(data_processing_options=["GDPR"])])
    with pytest.raises(FacebookRequestError):
        post_events([make_event(data_processing_options_country=1)])


@pytest.mark.parametrize("source", ["website", "system_generated", "phone_call"])
def test_browser_context_sent_for_every_action_source(
    make_destination, make_conversion, email_hash, now, sandbox, source
):
    """client_user_agent, client_ip_address and event_source_url go with any action_source."""
    ids = Identifiers(
        email_sha256=(email_hash,),
        user_agent="Mozilla/5.0 (X11; Linux x86_64)",
        client_ip="203.0.113.9",
        page_url="https://www.example.com/pricing",
    )
    dest = make_destination(action_source=source)
    dest.send([dest.prepare(make_conversion(identifiers=ids), now)])
    event = sandbox.accepted[0]
    assert event["event_source_url"] == "https://www.example.com/pricing"
    assert event["user_data"]["client_user_agent"] == "Mozilla/5.0 (X11; Linux x86_64)"
    assert event["user_data"]["client_ip_address"] == "203.0.113.9"
