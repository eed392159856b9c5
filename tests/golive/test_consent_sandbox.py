"""The sandbox's consent screen refuses what Google refuses for a Desktop OAuth client."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from platforms.google_ads.sandbox import GoogleAdsSandbox

SCOPE = "https://www.googleapis.com/auth/datamanager"
VERIFIER = "v" * 64
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")


@pytest.fixture
def box() -> Iterator[GoogleAdsSandbox]:
    with GoogleAdsSandbox() as sandbox:
        yield sandbox


def authorize(box: GoogleAdsSandbox, **overrides: str) -> requests.Response:
    params = {
        "client_id": box.client_id,
        "redirect_uri": "http://127.0.0.1:5555/",
        "response_type": "code",
        "scope": SCOPE,
        "state": "s1",
        "code_challenge": CHALLENGE.decode(),
        "code_challenge_method": "S256",
        **overrides,
    }
    return requests.get(box.token_endpoint.auth_uri, params=params, allow_redirects=False)


def exchange(box: GoogleAdsSandbox, code: str, **overrides: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": box.client_id,
        "client_secret": box.client_secret,
        "redirect_uri": "http://127.0.0.1:5555/",
        "code_verifier": VERIFIER,
        **overrides,
    }
    return requests.post(box.token_endpoint.token_uri, data=form)


def code_of(answer: requests.Response) -> str:
    assert answer.status_code == 302, answer.text
    query = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def test_code_is_exchanged_once_for_a_refresh_token(box: GoogleAdsSandbox) -> None:
    code = code_of(authorize(box))
    first = exchange(box, code)
    assert first.status_code == 200
    assert first.json()["refresh_token"] and first.json()["scope"] == SCOPE
    again = exchange(box, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": "https://example.com/callback"}, "redirect_uri_mismatch"),
        ({"client_id": "someone-else.apps.googleusercontent.com"}, "invalid_client"),
        ({"scope": "https://www.googleapis.com/auth/made-up"}, "invalid_scope"),
    ],
)
def test_consent_screen_errors_are_pages_not_redirects(
    box: GoogleAdsSandbox, overrides: dict[str, str], error: str
) -> None:
    answer = authorize(box, **overrides)
    assert answer.status_code in (400, 401) and "Location" not in answer.headers
    assert error in answer.text


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": "w" * 64}, "invalid_grant"),
        ({"redirect_uri": "http://127.0.0.1:6666/"}, "redirect_uri_mismatch"),
        ({"client_secret": "wrong"}, "invalid_client"),
    ],
)
def test_exchange_checks_pkce_redirect_and_client(
    box: GoogleAdsSandbox, overrides: dict[str, str], error: str
) -> None:
    answer = exchange(box, code_of(authorize(box)), **overrides)
    assert answer.status_code in (400, 401)
    assert answer.json()["error"] == error


def test_denial_redirects_with_access_denied(box: GoogleAdsSandbox) -> None:
    box.consent.decision = "deny"
    answer = authorize(box)
    assert parse_qs(urlsplit(answer.headers["Location"]).query)["error"] == ["access_denied"]
