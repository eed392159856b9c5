"""``closedloop init`` writes a config that ``closedloop config check`` accepts.

Once the secrets its ``${ENV}`` references name are set, or the files its ``_file`` paths name
exist (written by ``closedloop auth ...``), the file validates as is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.config import load_config
from platforms.google_ads.sandbox import GoogleAdsSandbox
from platforms.hubspot.sandbox import HubSpotSandbox
from tests.golive.conftest import cli_env, closedloop

ENV = {
    "CLOSEDLOOP_TRIGGER_TOKEN": "t" * 32,
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-x",
    "META_ACCESS_TOKEN": "EAAB-x",
    "GA4_API_SECRET": "s3cret",
}


def invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), input=input, env=ENV if env is None else env)


def config_check(path: Path, env: dict[str, str] | None = None):
    return invoke("-c", str(path), "config", "check", env=env)


def test_non_interactive_init_passes_config_check(tmp_path: Path) -> None:
    path = tmp_path / "closedloop.yaml"
    result = invoke(
        "-c",
        str(path),
        "init",
        "--no-input",
        "-p",
        "hubspot",
        "-p",
        "meta",
        "--set",
        "meta.pixel_id=1234567890123456",
    )
    assert result.exit_code == 0, result.output
    checked = config_check(path)
    assert checked.exit_code == 0, checked.output
    assert "enabled platforms: hubspot, meta" in checked.output
    text = path.read_text()
    assert "${META_ACCESS_TOKEN}" in text and "EAAB" not in text
    assert "# graph_url:" in text  # the model's other keys, commented, with defaults
    settings = load_config(path, env=ENV)
    assert settings.platforms.meta.pixel_id == "1234567890123456"
    assert settings.platforms.meta.access_token.get_secret_value() == "EAAB-x"


def test_unset_secret_fails_config_check_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "closedloop.yaml"
    assert invoke("-c", str(path), "init", "--no-input", "-p", "hubspot").exit_code == 0
    env = {k: v for k, v in ENV.items() if k != "HUBSPOT_ACCESS_TOKEN"}
    checked = config_check(path, env)
    assert checked.exit_code == 2
    assert "platforms.hubspot.access_token" in checked.output


def test_interactive_init_asks_for_each_id(tmp_path: Path) -> None:
    path = tmp_path / "closedloop.yaml"
    answers = "\n".join(
        [
            "ga4,meta",  # platforms
            "https://track.example.com",  # public URL
            "https://www.example.com",  # origins
            "G-1A2B3C4D5E",  # GA4 measurement ID
            "",  # GA4 property ID: none (no sessions, so no Google sign-in)
            "1234567890123456",  # pixel
            "act_1000000001",  # ad account
        ]
    )
    result = invoke("-c", str(path), "init", input=answers + "\n")
    assert result.exit_code == 0, result.output
    checked = config_check(path)
    assert checked.exit_code == 0, checked.output
    settings = load_config(path, env=ENV)
    assert settings.platforms.ga4.measurement_id == "G-1A2B3C4D5E"
    assert settings.platforms.ga4.credentials is None  # asked only with a property ID
    assert settings.platforms.meta.ad_account_id == "act_1000000001"
    assert settings.server.allowed_origins == ["https://www.example.com"]


def test_missing_answer_without_input_names_the_set_flag(tmp_path: Path) -> None:
    result = invoke("-c", str(tmp_path / "c.yaml"), "init", "--no-input", "-p", "google_ads")
    assert result.exit_code == 2
    assert "--set google_ads.customer_id=VALUE" in result.output


def test_ids_left_for_later_are_named_by_config_check(tmp_path: Path) -> None:
    """A pixel ID not known yet: written commented; config check says it is missing."""
    path = tmp_path / "closedloop.yaml"
    assert invoke("-c", str(path), "init", "--no-input", "-p", "meta").exit_code == 0
    assert "# pixel_id:" in path.read_text()
    checked = config_check(path)
    assert checked.exit_code == 2 and "pixel_id" in checked.output


def test_existing_file_is_kept_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "closedloop.yaml"
    path.write_text("mine: true\n")
    assert invoke("-c", str(path), "init", "--no-input", "-p", "hubspot").exit_code == 2
    assert path.read_text() == "mine: true\n"
    result = invoke("-c", str(path), "init", "--no-input", "-p", "hubspot", "--force")
    assert result.exit_code == 0


def test_unknown_platform_is_refused(tmp_path: Path) -> None:
    result = invoke("-c", str(tmp_path / "c.yaml"), "init", "--no-input", "-p", "linkedin")
    assert result.exit_code == 2 and "unknown platform linkedin" in result.output


def test_secret_files_written_by_auth_make_the_config_valid(tmp_path: Path) -> None:
    """`init --secrets-dir`, then `auth hubspot -o` to the path init chose: the config checks."""
    path, secrets = tmp_path / "closedloop.yaml", tmp_path / "secrets"
    box = HubSpotSandbox().start()
    try:
        init = invoke(
            "-c",
            str(path),
            "init",
            "--no-input",
            "-p",
            "hubspot",
            "--set",
            f"hubspot.base_url={box.url}",
            "--secrets-dir",
            str(secrets),
        )
        assert init.exit_code == 0, init.output
        raw = yaml.safe_load(path.read_text())
        token_file = raw["platforms"]["hubspot"]["access_token_file"]
        assert config_check(path).exit_code == 2  # the file does not exist yet
        stored = invoke(
            "-c", str(path), "auth", "hubspot", "-o", token_file, input=box.access_token + "\n"
        )
        assert stored.exit_code == 0, stored.output
    finally:
        box.stop()
    trigger = Path(raw["server"]["trigger_token_file"])
    trigger.write_text("t" * 32)  # the admin's own random token
    env: dict[str, str] = {}
    checked = config_check(path, env)
    assert checked.exit_code == 0, checked.output
    assert load_config(path, env=env).platforms.hubspot.access_token.get_secret_value() == (
        box.access_token
    )


def test_google_init_then_auth_google_then_config_check(tmp_path: Path) -> None:
    """The Going-live order: init, auth google (sandbox consent), config check."""
    path = tmp_path / "closedloop.yaml"
    with GoogleAdsSandbox() as box:
        init = invoke(
            "-c",
            str(path),
            "init",
            "--no-input",
            "-p",
            "google_ads",
            "--set",
            "google_ads.customer_id=123-456-7890",
            "--set",
            "google_ads.conversion_action_id=700000001",
        )
        assert init.exit_code == 0, init.output
        assert config_check(path).exit_code == 2  # no credentials file yet
        secrets = tmp_path / "client_secret.json"
        secrets.write_text(json.dumps(box.client_secrets()))
        proc = closedloop(
            "-c", str(path), "auth", "google", "--client-secrets", str(secrets), env=cli_env()
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(box.token_endpoint.auth_uri):
                import requests

                requests.get(line.strip(), timeout=30)
                break
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    assert (tmp_path / "google-credentials.json").exists()
    checked = config_check(path)
    assert checked.exit_code == 0, checked.output


@pytest.mark.parametrize("flag", ["--help"])
def test_init_is_a_registered_command(flag: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "connector.cli", "init", flag],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--platform" in out.stdout
