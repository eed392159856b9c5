"""Hostile input to the ops and dashboard endpoints is a JSON 4xx, never a 500."""

from __future__ import annotations

import re

import pytest

AUTH = {"Authorization": "Bearer test-trigger-token"}


@pytest.mark.parametrize("run_id", [2**63, 10**30, 3486536089124327184184377344])
def test_huge_run_id_is_404(client, run_id):
    """A run ID beyond any database integer is simply not there: 404, not an overflow 500."""
    response = client.get(f"/runs/{run_id}", headers=AUTH)
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.get_json()["error"] == "not_found"


def test_largest_run_id_is_404(client):
    """The largest 64-bit ID still reaches the database and is answered 404."""
    assert client.get(f"/runs/{2**63 - 1}", headers=AUTH).status_code == 404


def test_deep_json_on_trigger_is_400(app, client):
    """A body nested past the parser's recursion limit is invalid JSON (400), no run starts."""
    body = '{"dry_run": ' + "[" * 30_000 + "]" * 30_000 + "}"
    response = client.post(
        "/trigger", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"] == "invalid_json"


@pytest.mark.parametrize("body", ['{"dry_run": {}}', '{"dry_run": "yes"}', '{"dry_run": 1}', "[]"])
def test_trigger_body_must_be_an_object_with_a_boolean(client, body):
    """``dry_run`` must be a JSON boolean: anything else is a 400 naming the field."""
    response = client.post(
        "/trigger", data=body, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
    assert response.get_json()["detail"][0]["field"] in ("dry_run", "body")


def test_method_not_allowed_says_which_are(client):
    """A 405 carries the Allow header RFC 9110 requires, with a JSON body."""
    response = client.open("/trigger", method="TRACE", headers=AUTH)
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert response.get_json()["error"] == "method_not_allowed"


def test_non_ascii_csrf_token_is_400(make_settings, make_app):
    """A forged non-ASCII CSRF token is refused like any wrong one (400), not a 500."""
    settings = make_settings({"dashboard": {"token": "dash-token", "secret_key": "k" * 32}})
    client = make_app(settings).test_client()
    page = client.get("/dashboard/").get_data(as_text=True)
    assert re.search(r'name="csrf" value="([^"]+)"', page)
    response = client.post(
        "/dashboard/login", data={"csrf": "çsrf-ü", "username": "", "password": "dash-token"}
    )
    assert response.status_code == 400
