"""GA4 checks against the sandbox: token scopes, Data API, validation server, api_secret note."""

from __future__ import annotations

from platforms.google_ads.sandbox import DATAMANAGER_SCOPE


def test_every_ga4_check_passes_and_the_secret_is_an_honest_note(ga4, doctor):
    """Healthy GA4 passes; the api_secret row is a note with where to check it."""
    result = doctor({"ga4": ga4.platform_config()})
    for name in (
        "OAuth token refreshes",
        "token scopes",
        "Data API access to the property",
        "validation server accepts a purchase",
    ):
        assert result["ga4", name].status == "ok", result["ga4", name]
    note = result["ga4", "api_secret"]
    assert note.status == "note" and "Realtime" in note.fix
    assert ga4.accepted == [] and ga4.debug_requests == 1


def test_unknown_property_fails_data_api_access(ga4, doctor):
    """A property the credentials cannot read: Google's 403 PERMISSION_DENIED."""
    check = doctor({"ga4": ga4.platform_config() | {"property_id": "999"}})[
        "ga4", "Data API access to the property"
    ]
    assert check.status == "fail" and "sufficient permissions" in check.detail


def test_token_without_analytics_scope_fails(ga4, doctor):
    """A refresh token granted another scope fails 'token scopes' before any report."""
    config = ga4.platform_config() | {
        "credentials": ga4.credentials(ga4.grant({DATAMANAGER_SCOPE}))
    }
    result = doctor({"ga4": config})
    assert result["ga4", "token scopes"].status == "fail"
    assert "Data API access to the property" not in result.names("ga4")


def test_invalid_event_fails_validation(ga4, doctor):
    """The validation server's NAME_INVALID for a bad event name fails the check."""
    check = doctor({"ga4": ga4.platform_config() | {"event_name": "_bad"}})[
        "ga4", "validation server accepts a purchase"
    ]
    assert check.status == "fail" and check.detail.startswith("NAME_INVALID")


def test_without_property_the_data_api_is_a_note(ga4, doctor):
    """No property_id: sessions are not pulled, so the Data API row is a note."""
    config = ga4.platform_config()
    config.pop("property_id")
    assert doctor({"ga4": config})["ga4", "Data API access"].status == "note"


def test_unreachable_validation_server_fails_without_leaking_the_secret(ga4, doctor):
    """A connection error names the host only: the URL would carry the api_secret."""
    config = ga4.platform_config()
    config.pop("property_id")
    config["measurement_protocol_url"] = "http://127.0.0.1:9"
    check = doctor({"ga4": config})["ga4", "validation server accepts a purchase"]
    assert check.status == "fail" and "127.0.0.1:9" in check.detail
    assert ga4.api_secret not in check.detail
