"""Configuration: interpolation, secret files, validation errors that name the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import load_config, parse_config, redacted, secret_values
from connector.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.yaml"
EXAMPLE_ENV = {
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-hubspot-secret",
    "CLOSEDLOOP_TRIGGER_TOKEN": "trigger-secret",
    "GOOGLE_CLIENT_ID": "client-id.apps.googleusercontent.com",
    "GOOGLE_CLIENT_SECRET": "google-client-secret",
    "GOOGLE_REFRESH_TOKEN": "1//google-refresh-token",
    "GA4_API_SECRET": "ga4-api-secret",
    "META_ACCESS_TOKEN": "EAAB-meta-token",
}


def test_example_config_validates_with_its_env_vars():
    """config.example.yaml passes once the variables it references are set."""
    settings = load_config(EXAMPLE, env=EXAMPLE_ENV)
    assert settings.platforms.enabled() == ["hubspot", "google_ads", "ga4", "meta"]
    assert settings.platforms.hubspot.access_token.get_secret_value() == "pat-na1-hubspot-secret"
    assert settings.platforms.google_ads.customer_id == "1234567890"


def test_missing_env_var_names_variable_and_key():
    """An unset ${VAR} fails with the variable's name and the key that uses it."""
    with pytest.raises(ConfigError) as err:
        parse_config({"platforms": {"hubspot": {"access_token": "${NOPE_TOKEN}"}}}, env={})
    assert "NOPE_TOKEN" in str(err.value)
    assert "platforms.hubspot.access_token" in str(err.value)


def test_env_default_and_typed_substitution():
    """${VAR:-default} applies the default, and a whole-value variable keeps YAML typing."""
    settings = parse_config(
        {"server": {"port": "${PORT}", "host": "${HOST:-0.0.0.0}"}}, env={"PORT": "9090"}
    )
    assert settings.server.port == 9090
    assert settings.server.host == "0.0.0.0"


def test_secret_file_variant(tmp_path: Path):
    """`<secret>_file` reads the secret from a file, trimmed."""
    secret = tmp_path / "token"
    secret.write_text("pat-from-file\n")
    settings = parse_config(
        {"platforms": {"hubspot": {"enabled": True, "access_token_file": str(secret)}}}, env={}
    )
    assert settings.platforms.hubspot.access_token.get_secret_value() == "pat-from-file"


def test_secret_file_missing_names_the_key(tmp_path: Path):
    """An unreadable secret file is an error naming the `_file` key."""
    with pytest.raises(ConfigError, match=r"platforms\.meta\.access_token_file"):
        parse_config({"platforms": {"meta": {"access_token_file": str(tmp_path / "nope")}}})


def test_file_variant_only_for_secrets():
    """A `_file` suffix on a non-secret key is an unknown key, not a file read."""
    with pytest.raises(ConfigError, match="unknown key"):
        parse_config({"platforms": {"meta": {"pixel_id_file": "/etc/passwd"}}})


def test_typo_names_full_path_and_suggests():
    """A typo'd key fails naming its full path and the closest valid key."""
    with pytest.raises(ConfigError) as err:
        parse_config({"platforms": {"hubspot": {"acess_token": "x"}}})
    message = str(err.value)
    assert "platforms.hubspot.acess_token: unknown key" in message
    assert "did you mean platforms.hubspot.access_token?" in message


def test_typo_at_top_level_suggests():
    """Top-level section typos are caught too."""
    with pytest.raises(ConfigError, match=r"did you mean schedule\?"):
        parse_config({"schedul": {}})


def test_enabled_platform_requires_credentials():
    """Enabling a platform without its credentials names the platform key and what's missing."""
    with pytest.raises(ConfigError) as err:
        parse_config({"platforms": {"meta": {"enabled": True, "pixel_id": "1"}}})
    assert "platforms.meta" in str(err.value)
    assert "access_token" in str(err.value)


def test_interval_and_cron_are_exclusive():
    """schedule.interval_minutes and schedule.cron cannot both be set; bad cron is named."""
    with pytest.raises(ConfigError, match="either interval_minutes or cron"):
        parse_config({"schedule": {"interval_minutes": 5, "cron": "*/5 * * * *"}})
    with pytest.raises(ConfigError, match="cron"):
        parse_config({"schedule": {"cron": "every tuesday"}})
    assert parse_config({}).schedule.interval_minutes == 15


def test_google_credentials_inline_or_path(tmp_path: Path):
    """Google credentials accept a file path or inline fields, and inline ones must be whole."""
    file = tmp_path / "sa.json"
    file.write_text('{"type": "service_account", "client_email": "a@b.iam"}')
    as_path = parse_config({"platforms": {"ga4": {"credentials": str(file)}}})
    assert as_path.platforms.ga4.credentials == str(file)
    with pytest.raises(ConfigError, match="refresh_token") as err:
        parse_config(
            {"platforms": {"google_ads": {"credentials": {"client_id": "a", "client_secret": "b"}}}}
        )
    assert "valid string" not in str(err.value)  # the path form's mismatch is not the point


def test_redacted_and_secret_values():
    """Redaction hides every secret; secret_values lists them for the log filter."""
    settings = load_config(EXAMPLE, env=EXAMPLE_ENV)
    dumped = str(redacted(settings))
    for secret in EXAMPLE_ENV.values():
        if "googleusercontent" in secret:
            continue  # a client ID is not a secret
        assert secret not in dumped
    assert set(secret_values(settings)) >= {"pat-na1-hubspot-secret", "google-client-secret"}


def test_missing_explicit_file_is_an_error(tmp_path: Path):
    """-c with a path that does not exist fails instead of silently using defaults."""
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "absent.yaml")
