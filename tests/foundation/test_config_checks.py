"""Config that would pass and then fail at first use is refused up front, naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from connector.cli import cli
from connector.config import parse_config
from connector.config.models import GoogleAdsSettings
from connector.errors import ConfigError


def errors_of(raw: dict, env: dict | None = None) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(raw, env=env or {})
    return str(err.value)


@pytest.mark.parametrize("blank", ["", "   ", "\n"])
@pytest.mark.parametrize(
    ("platform", "section", "key"),
    [
        ("hubspot", {"enabled": True}, "access_token"),
        ("meta", {"enabled": True, "pixel_id": "1234567890"}, "access_token"),
        ("ga4", {"enabled": True, "measurement_id": "G-1A2B3C4D5E"}, "api_secret"),
        (
            "google_ads",
            {
                "enabled": True,
                "api": "google_ads",
                "customer_id": "123-456-7890",
                "conversion_action_id": "1",
                "credentials": {"client_id": "c", "client_secret": "s", "refresh_token": "r"},
            },
            "developer_token",
        ),
    ],
)
def test_an_empty_secret_is_a_missing_secret(platform, section, key, blank):
    """``key: ''`` (or blanks) on an enabled platform fails like an absent key does."""
    message = errors_of({"platforms": {platform: {**section, key: blank}}})
    assert f"platforms.{platform}: enabled but missing {key}" in message


@pytest.mark.parametrize(
    "path",
    [
        ("platforms", "hubspot", "client_secret"),
        ("platforms", "google_ads", "developer_token"),
        ("platforms", "ga4", "api_secret"),
        ("platforms", "meta", "access_token"),
        ("server", "trigger_token"),
        ("dashboard", "secret_key"),
        ("dashboard", "token"),
    ],
)
def test_empty_secrets_are_not_set(path):
    """Every secret, enabled platform or not, reads as None when given as '' or blanks."""
    raw: dict = {}
    node = raw
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = "${UNSET_SECRET:-}"
    settings = parse_config(raw, env={})
    value = settings
    for part in path:
        value = getattr(value, part)
    assert value is None


def test_an_empty_secret_assigned_later_is_not_set_either():
    """Code that assigns '' (validate_assignment) gets None too, not an empty SecretStr."""
    google = GoogleAdsSettings()
    google.developer_token = "  "
    assert google.developer_token is None


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"schedule": {"timezone": "Mars/Olympus"}}, "schedule.timezone"),
        ({"schedule": {"timezone": "../etc/passwd"}}, "schedule.timezone"),
        ({"database": {"url": "htps//db.example/closedloop"}}, "database.url"),
        ({"database": {"url": "postgress://u@h/db"}}, "database.url"),
        ({"server": {"public_url": "track.example.com"}}, "server.public_url"),
        ({"server": {"public_url": "htps//track.example.com"}}, "server.public_url"),
        ({"platforms": {"meta": {"graph_url": "graph.facebook.com"}}}, "platforms.meta.graph_url"),
        ({"platforms": {"hubspot": {"base_url": "api.hubapi.com"}}}, "platforms.hubspot.base_url"),
        (
            {"platforms": {"ga4": {"measurement_protocol_url": "htps//x.example"}}},
            "platforms.ga4.measurement_protocol_url",
        ),
        (
            {"server": {"allowed_origins": ["https://ok.example", "www.example.com/"]}},
            "server.allowed_origins[1]",
        ),
        (
            {"server": {"allowed_origins": ["https://www.example.com/landing"]}},
            "server.allowed_origins[0]",
        ),
        ({"platforms": {"ga4": {"measurement_id": "UA-12345-1"}}}, "platforms.ga4.measurement_id"),
        (
            {"platforms": {"ga4": {"measurement_id": "G-XXXXXXXXXX"}}},
            "platforms.ga4.measurement_id",
        ),
        (
            {"platforms": {"google_ads": {"customer_id": "1234567890123"}}},
            "platforms.google_ads.customer_id",
        ),
        (
            {"platforms": {"google_ads": {"login_customer_id": "123-456"}}},
            "platforms.google_ads.login_customer_id",
        ),
    ],
)
def test_values_that_would_fail_later_are_refused(raw, named):
    """Unknown time zones, URLs without a scheme, non-origins and impossible IDs name the key."""
    assert f"{named}: " in errors_of(raw)


def test_good_values_pass():
    """The forms users write for these keys are accepted as written."""
    settings = parse_config(
        {
            "schedule": {"timezone": "Europe/Berlin"},
            "database": {"url": "postgresql://u:p@db.internal:5432/closedloop"},
            "server": {
                "public_url": "https://track.example.com",
                "allowed_origins": ["https://www.example.com", "http://localhost:3000/", "*"],
            },
            "platforms": {
                "ga4": {"measurement_id": "G-1A2B3C4D5E"},
                "google_ads": {"customer_id": "123-456-7890", "login_customer_id": 9876543210},
                "meta": {"graph_url": "http://127.0.0.1:8443"},
            },
        }
    )
    assert settings.server.allowed_origins[1] == "http://localhost:3000/"
    assert settings.platforms.google_ads.login_customer_id == "9876543210"


@pytest.mark.parametrize("content", [None, "not json", '{"type": "bogus"}'])
def test_unreadable_credential_files_are_refused(tmp_path: Path, content):
    """A Google credentials path must be a readable Google JSON file, checked at load."""
    file = tmp_path / "sa.json"
    if content is not None:
        file.write_text(content)
    message = errors_of({"platforms": {"ga4": {"credentials": str(file)}}})
    assert "platforms.ga4.credentials: " in message and str(file) in message


def test_unreadable_directory_credentials_are_refused(tmp_path: Path):
    """A directory given as the credentials file is refused too."""
    message = errors_of({"platforms": {"google_ads": {"credentials": str(tmp_path)}}})
    assert "platforms.google_ads.credentials: cannot read" in message


def test_every_missing_variable_is_reported_at_once(tmp_path: Path):
    """All unset ${VARS} and unreadable secret files come in one error, with other problems."""
    message = errors_of(
        {
            "server": {"trigger_token": "${TRIGGER}"},
            "schedule": {"timezone": "Nowhere/City"},
            "platforms": {
                "hubspot": {"enabled": True, "access_token": "${HUBSPOT_TOKEN}"},
                "meta": {"enabled": True, "pixel_id": "1", "access_token": "x${META_TOKEN}"},
                "ga4": {"api_secret_file": str(tmp_path / "absent")},
            },
        }
    )
    lines = message.splitlines()
    assert lines[0] == "5 configuration errors:"
    assert any("server.trigger_token: environment variable TRIGGER" in line for line in lines)
    assert any(
        "platforms.hubspot.access_token: environment variable HUBSPOT_TOKEN" in line
        for line in lines
    )
    assert any(
        "platforms.meta.access_token: environment variable META_TOKEN" in line for line in lines
    )
    assert any("platforms.ga4.api_secret_file: cannot read secret file" in line for line in lines)
    assert any("schedule.timezone: " in line for line in lines)
    # The dropped keys are not reported a second time as "enabled but missing".
    assert "enabled but missing" not in message


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"schedule": {"timezone": "Mars/Olympus"}}, ["schedule.timezone"]),
        ({"server": {"allowed_origins": ["www.example.com/"]}}, ["server.allowed_origins[0]"]),
        (
            {"platforms": {"ga4": {"measurement_id": "G-XXXXXXXXXX"}}},
            ["platforms.ga4.measurement_id"],
        ),
        (
            {"platforms": {"hubspot": {"access_token": "${A}", "client_secret": "${B}"}}},
            ["platforms.hubspot.access_token", "platforms.hubspot.client_secret"],
        ),
    ],
)
def test_config_check_exits_2_naming_the_key(tmp_path: Path, raw, named):
    """``closedloop config check`` exits 2 on each of these, never prints ``config ok``."""
    path = tmp_path / "closedloop.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(
        cli, ["-c", str(path), "config", "check"], env={"A": None, "B": None}
    )
    assert result.exit_code == 2, result.output
    assert "config ok" not in result.output
    for key in named:
        assert f"{key}: " in result.output
