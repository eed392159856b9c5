"""``closedloop auth google`` against the sandbox's consent screen and token endpoint.

The CLI runs as a real process; the test is the browser: it opens the URL the command prints,
and the sandbox's consent screen redirects it to the command's loopback server (or, with
``--no-browser``, the test pastes the address the browser ended on). The file written must then
let the connector's own Google clients refresh a token with the scopes they ask for.
"""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from google.auth.transport.requests import Request as GoogleRequest

from connector.cli import cli
from connector.config import load_config
from platforms.google_ads.client import datamanager_credentials
from platforms.google_ads.sandbox import GoogleAdsSandbox
from platforms.google_auth import build_credentials
from tests.golive.conftest import cli_env, closedloop

# Google's documented scope strings (Data Manager API, Google Ads API, Analytics Data API).
DATAMANAGER = "https://www.googleapis.com/auth/datamanager"
ADWORDS = "https://www.googleapis.com/auth/adwords"
ANALYTICS = "https://www.googleapis.com/auth/analytics.readonly"


@pytest.fixture
def box() -> Iterator[GoogleAdsSandbox]:
    with GoogleAdsSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def client_secrets(box: GoogleAdsSandbox, tmp_path: Path) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps(box.client_secrets()), encoding="utf-8")
    return path


def google_sections(box: GoogleAdsSandbox, creds: Path, **ads: Any) -> dict[str, Any]:
    section = {k: v for k, v in box.platform_config().items() if k != "credentials"}
    section.pop("developer_token", None)
    return {"google_ads": {**section, "credentials": str(creds), **ads}}


def browse(proc: subprocess.Popen[str], auth_uri: str, *, follow: bool) -> requests.Response:
    """Read the printed URL and open it, as the admin's browser would."""
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.strip().startswith(auth_uri):
            return requests.get(line.strip(), allow_redirects=follow, timeout=30)
    raise AssertionError(f"no authorization URL printed:\n{''.join(seen)}{proc.stderr.read()}")


def finish(proc: subprocess.Popen[str], stdin: str | None = None) -> tuple[int, str, str]:
    out, err = proc.communicate(stdin, timeout=60)
    return proc.returncode, out, err


def test_loopback_flow_writes_a_file_the_connector_refreshes_with(
    box: GoogleAdsSandbox, client_secrets: Path, write_config, tmp_path: Path
) -> None:
    creds = tmp_path / "secrets" / "google-credentials.json"
    platforms = google_sections(box, creds, developer_token="dev-token")
    platforms["ga4"] = {
        "enabled": True,
        "measurement_id": "G-1A2B3C4D5E",
        "api_secret": "s",
        "property_id": "123",
        "credentials": str(creds),
    }
    config = write_config(platforms)
    proc = closedloop(
        "-c",
        str(config),
        "auth",
        "google",
        "--client-secrets",
        str(client_secrets),
        env=cli_env(),
    )
    landed = browse(proc, box.token_endpoint.auth_uri, follow=True)
    code, out, err = finish(proc)
    assert code == 0, err
    assert landed.status_code == 200 and "127.0.0.1" in landed.url  # the loopback server
    asked = box.consent.requests[-1]
    assert set(asked["scope"].split()) == {DATAMANAGER, ADWORDS, ANALYTICS}
    assert asked["access_type"] == "offline" and asked["code_challenge_method"] == "S256"

    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    info = json.loads(creds.read_text())
    assert info["type"] == "authorized_user"
    assert info["refresh_token"] in box.consent.refresh_tokens
    for secret in (info["refresh_token"], info["client_secret"]):
        assert secret not in out and secret not in err

    # The config now validates, and the connector's own clients refresh with the file.
    settings = load_config(config)
    token = datamanager_credentials(settings.platforms.google_ads)
    token.refresh(GoogleRequest())
    assert box.issuer.check(f"Bearer {token.token}", DATAMANAGER) is None
    ads = build_credentials(str(creds), [ADWORDS], "platforms.google_ads.credentials")
    ads.refresh(GoogleRequest())
    assert box.issuer.check(f"Bearer {ads.token}", ADWORDS) is None
    assert str(creds) in out  # where it went, for the YAML


def test_scopes_follow_the_enabled_features(
    box: GoogleAdsSandbox, client_secrets: Path, write_config, tmp_path: Path
) -> None:
    creds = tmp_path / "google.json"
    config = write_config(google_sections(box, creds))  # Data Manager only, no developer token
    proc = closedloop(
        "-c",
        str(config),
        "auth",
        "google",
        "--client-secrets",
        str(client_secrets),
        env=cli_env(),
    )
    browse(proc, box.token_endpoint.auth_uri, follow=True)
    code, _, err = finish(proc)
    assert code == 0, err
    assert box.consent.requests[-1]["scope"].split() == [DATAMANAGER]
    token = build_credentials(str(creds), [ADWORDS], "k")
    with pytest.raises(Exception, match="invalid_scope"):
        token.refresh(GoogleRequest())  # a token for Data Manager cannot become an AdWords one


@pytest.mark.parametrize("decision", ["deny", {DATAMANAGER}])
def test_refused_or_partial_consent_writes_nothing(
    box: GoogleAdsSandbox, client_secrets: Path, write_config, tmp_path: Path, decision: Any
) -> None:
    box.consent.decision = decision
    creds = tmp_path / "google.json"
    config = write_config(google_sections(box, creds, developer_token="dev-token"))
    proc = closedloop(
        "-c",
        str(config),
        "auth",
        "google",
        "--client-secrets",
        str(client_secrets),
        env=cli_env(),
    )
    browse(proc, box.token_endpoint.auth_uri, follow=True)
    code, _, err = finish(proc)
    assert code == 1
    assert not creds.exists()
    if decision == "deny":
        assert "access_denied" in err
    else:
        assert f"missing: {ADWORDS}" in err


def test_no_browser_pastes_the_redirect_back(
    box: GoogleAdsSandbox, client_secrets: Path, write_config, tmp_path: Path
) -> None:
    creds = tmp_path / "google.json"
    config = write_config(google_sections(box, creds))
    proc = closedloop(
        "-c",
        str(config),
        "auth",
        "google",
        "--no-browser",
        "--client-secrets",
        str(client_secrets),
        env=cli_env(BROWSER="false"),  # nothing may be opened on a server
    )
    answer = browse(proc, box.token_endpoint.auth_uri, follow=False)
    assert answer.status_code == 302
    landed = answer.headers["Location"]  # where the browser stops: nothing listens there
    assert landed.startswith("http://127.0.0.1:8085/?")
    code, _, err = finish(proc, landed + "\n")
    assert code == 0, err
    token = datamanager_credentials(load_config(config).platforms.google_ads)
    token.refresh(GoogleRequest())
    assert box.issuer.check(f"Bearer {token.token}", DATAMANAGER) is None


def test_no_browser_refuses_an_address_from_another_sign_in(
    box: GoogleAdsSandbox, client_secrets: Path, write_config, tmp_path: Path
) -> None:
    creds = tmp_path / "google.json"
    config = write_config(google_sections(box, creds))
    proc = closedloop(
        "-c",
        str(config),
        "auth",
        "google",
        "--no-browser",
        "--client-secrets",
        str(client_secrets),
        env=cli_env(),
    )
    landed = browse(proc, box.token_endpoint.auth_uri, follow=False).headers["Location"]
    forged = landed.replace("state=", "state=x")
    code, _, err = finish(proc, forged + "\n")
    assert code == 1 and "state does not match" in err
    assert not creds.exists()


def test_a_web_client_is_refused_with_what_to_create(write_config, tmp_path: Path) -> None:
    secrets = tmp_path / "web.json"
    secrets.write_text(json.dumps({"web": {"client_id": "x"}}))
    config = write_config({"google_ads": {"enabled": True, "credentials": "x.json"}})
    result = CliRunner().invoke(
        cli, ["-c", str(config), "auth", "google", "--client-secrets", str(secrets)]
    )
    assert result.exit_code == 2
    assert "Desktop app" in result.output


def test_nothing_enabled_needs_no_sign_in(write_config, tmp_path: Path) -> None:
    secrets = tmp_path / "c.json"
    secrets.write_text("{}")
    config = write_config({"google_ads": {"enabled": False}})
    result = CliRunner().invoke(
        cli, ["-c", str(config), "auth", "google", "--client-secrets", str(secrets)]
    )
    assert result.exit_code == 2
    assert "no enabled feature needs a Google sign-in" in result.output


def test_a_service_account_section_needs_no_sign_in(write_config, tmp_path: Path) -> None:
    """GA4 on a service account, Google Ads on the user's token: only Ads' scopes are asked."""
    from platforms.google_oauth import needed_scopes

    key = tmp_path / "sa.json"
    key.write_text(json.dumps({"type": "service_account", "client_email": "a@b"}))
    sections = {
        "google_ads": {"enabled": True, "credentials": str(tmp_path / "user.json")},
        "ga4": {"enabled": True, "property_id": "1", "credentials": str(key)},
    }
    assert needed_scopes(sections) == {
        "google_ads": {"conversions (Data Manager API)": DATAMANAGER}
    }


def test_declared_scopes_are_the_ones_the_clients_ask_for() -> None:
    """The auth declarations and the SDK clients must agree, or the token would not refresh."""
    from platforms.ga4.auth import ANALYTICS_READONLY_SCOPE
    from platforms.ga4.client import DATA_API_SCOPES
    from platforms.google_ads import auth
    from platforms.google_ads.ads_client import ADWORDS_SCOPE
    from platforms.google_ads.client import DATAMANAGER_SCOPE

    assert (auth.ADWORDS_SCOPE, auth.DATAMANAGER_SCOPE) == (ADWORDS_SCOPE, DATAMANAGER_SCOPE)
    assert [ANALYTICS_READONLY_SCOPE] == DATA_API_SCOPES
    assert (ADWORDS_SCOPE, DATAMANAGER_SCOPE, DATA_API_SCOPES[0]) == (
        ADWORDS,
        DATAMANAGER,
        ANALYTICS,
    )


def test_the_written_file_makes_doctor_pass(
    box: GoogleAdsSandbox, client_secrets: Path, write_config, tmp_path: Path, make_settings
) -> None:
    """Done when: auth google's file, and nothing else, makes every Google Ads check pass."""
    from connector.doctor import run_doctor
    from connector.runtime import Runtime

    creds = tmp_path / "google.json"
    section = box.platform_config() | {"credentials": str(creds)}  # with its developer token
    config = write_config({"google_ads": section})
    proc = closedloop(
        "-c",
        str(config),
        "auth",
        "google",
        "--client-secrets",
        str(client_secrets),
        env=cli_env(),
    )
    browse(proc, box.token_endpoint.auth_uri, follow=True)
    code, _, err = finish(proc)
    assert code == 0, err
    assert set(box.consent.requests[-1]["scope"].split()) == {DATAMANAGER, ADWORDS}
    runtime = Runtime.from_settings(make_settings({"platforms": {"google_ads": section}}))
    try:
        report = run_doctor(runtime, timeout=10)
    finally:
        runtime.close()
    google = [c for c in report.checks if c.platform == "google_ads"]
    assert len(google) > 3
    assert [(c.name, c.status) for c in google if c.status != "ok"] == []
    assert info_of(creds)["refresh_token"] != box.refresh_token  # not the seeded token


def info_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())
