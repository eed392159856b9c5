"""The ``platforms.microsoft_ads`` section: refused up front with the key path, secrets by file."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import parse_config
from connector.errors import ConfigError

COMPLETE = {
    "enabled": True,
    "developer_token": "dev",
    "client_id": "app",
    "refresh_token": "M.r",
    "customer_id": "123",
    "account_id": "456",
    "conversion_name": "closedloop_deal_won",
}


def errors_of(section: dict) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config({"platforms": {"microsoft_ads": section}}, env={})
    return str(err.value)


def test_complete_section_parses() -> None:
    settings = parse_config({"platforms": {"microsoft_ads": COMPLETE}}, env={})
    section = settings.platforms.microsoft_ads
    assert section.enabled and section.developer_token.get_secret_value() == "dev"
    assert section.token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token"


@pytest.mark.parametrize(
    "key",
    [
        "developer_token",
        "client_id",
        "refresh_token",
        "customer_id",
        "account_id",
        "conversion_name",
    ],
)
def test_enabled_names_each_missing_key(key: str) -> None:
    section = {k: v for k, v in COMPLETE.items() if k != key}
    assert f"platforms.microsoft_ads: enabled but missing {key}" in errors_of(section)


def test_blank_secret_is_missing() -> None:
    message = errors_of({**COMPLETE, "developer_token": "  "})
    assert "enabled but missing developer_token" in message


def test_ids_must_be_numeric() -> None:
    assert "account_id must be the numeric ID" in errors_of({**COMPLETE, "account_id": "X-1"})


def test_unknown_key_names_its_path() -> None:
    assert "platforms.microsoft_ads.conversion_goal" in errors_of(
        {**COMPLETE, "conversion_goal": "x"}
    )


def test_bad_url_names_its_path() -> None:
    assert "platforms.microsoft_ads.api_url" in errors_of({**COMPLETE, "api_url": "not a url"})


def test_disabled_section_may_be_empty() -> None:
    settings = parse_config({"platforms": {"microsoft_ads": {}}}, env={})
    assert settings.platforms.microsoft_ads.enabled is False


def test_secrets_come_from_env_and_files(tmp_path: Path) -> None:
    token_file = tmp_path / "refresh"
    token_file.write_text("M.from-file\n")
    section = {k: v for k, v in COMPLETE.items() if k not in ("refresh_token", "developer_token")}
    section |= {"refresh_token_file": str(token_file), "developer_token": "${MSADS_DEV}"}
    settings = parse_config({"platforms": {"microsoft_ads": section}}, env={"MSADS_DEV": "d3v"})
    ms = settings.platforms.microsoft_ads
    assert ms.refresh_token.get_secret_value() == "M.from-file"
    assert ms.developer_token.get_secret_value() == "d3v"
    assert "M.from-file" not in repr(ms) and "d3v" not in repr(ms)
