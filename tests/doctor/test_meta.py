"""Meta checks against the Graph sandbox: token, permissions, dataset, ad account, test event."""

from __future__ import annotations


def test_every_meta_check_passes_and_the_test_event_lands_in_test_events(meta, doctor):
    """A system-user token with access passes; the event goes to Test events only."""
    config = meta.platform_config() | {"test_event_code": "TEST4242"}
    result = doctor({"meta": config})
    names = [
        "access token valid",
        "token permissions",
        "dataset (pixel) readable",
        "ad account readable",
        "ad account active",
        "test event accepted",
    ]
    assert result.names("meta") == names
    assert all(result["meta", n].status == "ok" for n in names)
    assert meta.accepted == []
    assert [e["test_event_code"] for e in meta.test_events] == ["TEST4242"]


def test_invalid_token_fails_with_graph_code_190_and_stops(meta, doctor):
    """A token Meta does not know is code 190; nothing else is checked."""
    result = doctor({"meta": meta.platform_config() | {"access_token": "EAAB-wrong"}})
    check = result["meta", "access token valid"]
    assert check.status == "fail" and check.detail.startswith("190")
    assert "system-user token" in check.fix
    assert result.names("meta") == ["access token valid"]


def test_token_without_ads_management_fails_permissions(meta, doctor):
    """debug_token's scopes lacking ads_management fail 'token permissions'."""
    meta.nodes.set_scopes(meta.access_token, ["ads_read"])
    check = doctor({"meta": meta.platform_config()})["meta", "token permissions"]
    assert check.status == "fail" and "ads_management" in check.detail


def test_dataset_and_ad_account_the_token_cannot_read_fail(meta, doctor):
    """Graph's 100/33 for a pixel and an account the token has no access to."""
    meta.add_pixel("999000999000999", "EAAB-someone-else")
    meta.add_ad_account("777", "EAAB-someone-else")
    config = meta.platform_config() | {"pixel_id": "999000999000999", "ad_account_id": "777"}
    result = doctor({"meta": config})
    for name in ("dataset (pixel) readable", "ad account readable"):
        assert result["meta", name].status == "fail"
        assert result["meta", name].detail.startswith("100/33")


def test_disabled_ad_account_fails(meta, doctor):
    """account_status 2 (DISABLED) fails 'ad account active'."""
    meta.nodes.set_account_status(meta.ad_account_id, 2)
    check = doctor({"meta": meta.platform_config()})["meta", "ad account active"]
    assert check.status == "fail" and "DISABLED" in check.detail


def test_without_test_event_code_no_event_is_sent(meta, doctor):
    """No test_event_code: a note, and nothing reaches the events edge."""
    result = doctor({"meta": meta.platform_config()})
    assert result["meta", "test event"].status == "note"
    assert meta.event_requests == 0


def test_refused_test_event_fails(meta, doctor):
    """An event Meta refuses (its event_name is not allowed) fails the test-event check."""
    config = meta.platform_config() | {"test_event_code": "TEST1", "event_name": ""}
    check = doctor({"meta": config})["meta", "test event accepted"]
    assert check.status == "fail" and check.detail.startswith("100"), check
    assert meta.test_events == []
