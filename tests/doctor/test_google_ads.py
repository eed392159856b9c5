"""Google Ads checks against the sandbox: each passes, and each fails the way Google fails."""

from __future__ import annotations

import pytest

from platforms.google_ads.sandbox import ADWORDS_SCOPE, DATAMANAGER_SCOPE

GOOGLE_CHECKS = [
    "OAuth token refreshes",
    "token scopes",
    "operating customer reachable",
    "customer-data terms accepted",
    "conversion action exists",
    "conversion action enabled",
    "conversion action is an upload type",
    "click-through window matches",
    "Data Manager validate_only",
]


def test_every_google_check_passes_on_a_healthy_account(google, doctor):
    """A well-set-up account passes every check, and validate_only keeps nothing."""
    result = doctor({"google_ads": google.platform_config()})
    assert result.names("google_ads") == GOOGLE_CHECKS
    assert [result["google_ads", n].status for n in GOOGLE_CHECKS] == ["ok"] * len(GOOGLE_CHECKS)
    assert google.accepted == []


def test_revoked_refresh_token_fails_the_refresh_and_stops(google, doctor):
    """Google's invalid_grant is a failed refresh; no later Google check runs."""
    config = google.platform_config()
    config["credentials"]["refresh_token"] = "1//revoked"
    result = doctor({"google_ads": config})
    check = result["google_ads", "OAuth token refreshes"]
    assert check.status == "fail" and "invalid_grant" in check.detail
    assert "closedloop auth google" in check.fix
    assert result.names("google_ads") == ["OAuth token refreshes"]


@pytest.mark.parametrize("google_options", [{"granted_scopes": {DATAMANAGER_SCOPE}}])
def test_missing_adwords_scope_is_named(google, doctor):
    """A refresh token without the AdWords scope (needed with a developer token) fails."""
    result = doctor({"google_ads": google.platform_config()})
    check = result["google_ads", "token scopes"]
    assert check.status == "fail" and ADWORDS_SCOPE in check.detail


def test_unknown_operating_customer_fails(google, doctor):
    """A customer ID the credentials cannot open fails 'operating customer reachable'."""
    config = google.platform_config() | {"customer_id": "9999999999"}
    result = doctor({"google_ads": config})
    check = result["google_ads", "operating customer reachable"]
    assert check.status == "fail" and "CUSTOMER_NOT_FOUND" in check.detail


def test_login_customer_is_checked_when_set(google, doctor):
    """A reachable manager passes; an unknown one fails with Google's header error."""
    google.ads_api.add_customer("5555555555", name="Manager")
    ok = doctor({"google_ads": google.platform_config() | {"login_customer_id": "5555555555"}})
    assert ok["google_ads", "login customer reachable"].status == "ok"
    bad = doctor({"google_ads": google.platform_config() | {"login_customer_id": "4444444444"}})
    check = bad["google_ads", "login customer reachable"]
    assert check.status == "fail" and "INVALID_LOGIN_CUSTOMER_ID" in check.detail


def test_unaccepted_customer_data_terms_fail(google, doctor):
    """accepted_customer_data_terms false is a failure with where to accept them."""
    google.accept_customer_data_terms(False)
    check = doctor({"google_ads": google.platform_config()})[
        "google_ads", "customer-data terms accepted"
    ]
    assert check.status == "fail" and "Enhanced conversions" in check.fix


def test_unknown_conversion_action_fails_and_points_at_the_list(google, doctor):
    """An action ID the account does not have fails, and validate_only fails too."""
    result = doctor({"google_ads": google.platform_config() | {"conversion_action_id": "123"}})
    check = result["google_ads", "conversion action exists"]
    assert check.status == "fail" and "conversion-actions" in check.fix
    assert result["google_ads", "Data Manager validate_only"].status == "fail"


def test_disabled_action_of_the_wrong_type_fails_both_checks(google, doctor):
    """A REMOVED webpage action fails 'enabled' and 'upload type'."""
    google.set_conversion_action(status="REMOVED", type="WEBPAGE")
    result = doctor({"google_ads": google.platform_config()})
    assert result["google_ads", "conversion action enabled"].status == "fail"
    assert "REMOVED" in result["google_ads", "conversion action enabled"].detail
    assert result["google_ads", "conversion action is an upload type"].status == "fail"


@pytest.mark.parametrize("google_options", [{"click_window_days": 30}])
def test_click_window_mismatch_names_both_values(google, doctor):
    """Google's 30-day window against our configured 90 fails, naming both."""
    check = doctor({"google_ads": google.platform_config()})[
        "google_ads", "click-through window matches"
    ]
    assert check.status == "fail"
    assert "30 days" in check.detail and "90" in check.detail
    assert "click_window_days: 30" in check.fix


@pytest.mark.parametrize("google_options", [{"developer_token": None}])
def test_without_developer_token_account_checks_are_a_note(google, doctor):
    """Data Manager alone cannot read the account: a note, not a failure; DM still checked."""
    result = doctor({"google_ads": google.platform_config()})
    assert result["google_ads", "conversion action"].status == "note"
    assert result["google_ads", "Data Manager validate_only"].status == "ok"
    assert result.failed() == []


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"status": "HIDDEN"}, "INVALID_CONVERSION_ACTION_ID"), ({"type": "WEBPAGE"}, "TYPE")],
)
def test_validate_only_refuses_an_action_google_would_refuse(google, doctor, changes, reason):
    """Data Manager's validation meets the same disabled or wrong-type action doctor flags."""
    google.set_conversion_action(**changes)
    check = doctor({"google_ads": google.platform_config()})[
        "google_ads", "Data Manager validate_only"
    ]
    assert check.status == "fail" and reason in check.detail, check
