"""The ``platforms.linkedin_ads`` section: what it requires, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from connector.config import parse_config, redacted
from connector.errors import ConfigError


def _linkedin(**section: object) -> dict[str, object]:
    return {"platforms": {"linkedin_ads": section}}


def test_minimal_enabled_section_and_urn_from_rule_id():
    """A token and a rule ID are enough; the ID becomes LinkedIn's conversion URN."""
    settings = parse_config(
        _linkedin(enabled=True, access_token="AQV-token", conversion_id="104906"), env={}
    )
    section = settings.platforms.linkedin_ads
    assert section.conversion_id == "urn:lla:llaPartnerConversion:104906"
    assert section.api_url == "https://api.linkedin.com/rest"
    assert section.api_version == "202603"
    assert "linkedin_ads" in settings.platforms.enabled()
    assert redacted(settings)["platforms"]["linkedin_ads"]["access_token"] == "***"


def test_disabled_section_needs_nothing():
    """Off by default, and an empty section is valid."""
    settings = parse_config({}, env={})
    assert "linkedin_ads" not in settings.platforms.enabled()


@pytest.mark.parametrize(
    ("section", "missing"),
    [
        ({"access_token": "AQV-token"}, "conversion_id"),
        ({"conversion_id": "104906"}, "access_token"),
        (
            {"conversion_id": "104906", "refresh_token": "r", "client_id": "c"},
            "client_secret",
        ),
    ],
)
def test_enabled_but_incomplete_names_what_is_missing(section, missing):
    """Enabled without a rule or any way to get a token: the error says which key."""
    with pytest.raises(ConfigError) as err:
        parse_config(_linkedin(enabled=True, **section), env={})
    assert "platforms.linkedin_ads" in str(err.value)
    assert missing in str(err.value)


def test_refresh_credentials_replace_the_access_token():
    """With refresh_token, client_id and client_secret no access token is needed."""
    settings = parse_config(
        _linkedin(
            enabled=True,
            conversion_id="urn:lla:llaPartnerConversion:77",
            refresh_token="AQX-refresh",
            client_id="86abc",
            client_secret="s3cret",
        ),
        env={},
    )
    assert settings.platforms.linkedin_ads.can_refresh


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("api_version", "v202603"),
        ("api_version", "202613"),
        ("conversion_id", "urn:li:sponsoredAccount:1"),
        ("conversion_id", "abc"),
        ("api_url", "api.linkedin.com/rest"),
        ("acces_token", "typo"),
    ],
)
def test_bad_values_name_the_key_path(key, value):
    """A malformed version, rule, URL or an unknown key fails at load, naming the key."""
    with pytest.raises(ConfigError) as err:
        parse_config(_linkedin(**{key: value}), env={})
    assert f"platforms.linkedin_ads.{key}" in str(err.value)


def test_token_from_env_and_file(tmp_path: Path):
    """Secrets come from ${ENV} or a ``_file`` reference, like every platform's."""
    token = tmp_path / "li-token"
    token.write_text("AQV-from-file\n")
    settings = parse_config(
        _linkedin(
            enabled=True,
            access_token_file=str(token),
            refresh_token="AQX-refresh",
            client_id="86abc",
            client_secret="${LI_SECRET}",
            conversion_id=104906,
        ),
        env={"LI_SECRET": "from-env"},
    )
    section = settings.platforms.linkedin_ads
    assert section.access_token.get_secret_value() == "AQV-from-file"
    assert section.client_secret.get_secret_value() == "from-env"
