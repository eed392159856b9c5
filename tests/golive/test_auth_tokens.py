"""``closedloop auth meta`` / ``auth hubspot`` check a pasted token at the sandbox; ``meta pixels``.

Expected permissions are the platforms' documented names (Meta: ads_management for the
Conversions API, ads_read for insights; HubSpot: the CRM scopes the pull and write-back use).
"""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import cli
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.meta.sandbox import MetaSandbox


@pytest.fixture
def meta() -> Iterator[MetaSandbox]:
    box = MetaSandbox().start()
    yield box
    box.stop()


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    box = HubSpotSandbox().start()
    yield box
    box.stop()


def run(config: Path, *args: str, token: str):
    return CliRunner().invoke(cli, ["-c", str(config), "auth", *args], input=token + "\n")


def meta_config(write_config, box: MetaSandbox, **extra: object) -> Path:
    section = {k: v for k, v in box.platform_config().items() if k != "access_token"}
    return write_config({"meta": {**section, **extra}})


def test_meta_system_user_token_passes_and_is_stored_0600(
    meta: MetaSandbox, write_config, tmp_path: Path
) -> None:
    out = tmp_path / "meta_token"
    result = run(meta_config(write_config, meta), "meta", "-o", str(out), token=meta.access_token)
    assert result.exit_code == 0, result.output
    assert "ads_management" in result.output and "system user" in result.output
    assert out.read_text().strip() == meta.access_token
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"platforms.meta.access_token_file: {out}" in result.output
    assert meta.access_token not in result.output


def test_meta_without_output_prints_the_env_reference(meta: MetaSandbox, write_config) -> None:
    result = run(meta_config(write_config, meta), "meta", token=meta.access_token)
    assert result.exit_code == 0, result.output
    assert "platforms.meta.access_token: ${META_ACCESS_TOKEN}" in result.output


def test_meta_unknown_token_fails(meta: MetaSandbox, write_config, tmp_path: Path) -> None:
    out = tmp_path / "meta_token"
    result = run(meta_config(write_config, meta), "meta", "-o", str(out), token="EAAB-unknown")
    assert result.exit_code == 1
    assert "Invalid OAuth access token" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        (["ads_read"], "lacks the ads_management permission"),
        (["ads_management"], "lacks the ads_read permission"),
    ],
)
def test_meta_token_missing_a_permission_fails(
    meta: MetaSandbox, write_config, tmp_path: Path, scopes: list[str], expected: str
) -> None:
    meta.nodes.set_scopes(meta.access_token, scopes)
    out = tmp_path / "meta_token"
    result = run(meta_config(write_config, meta), "meta", "-o", str(out), token=meta.access_token)
    assert result.exit_code == 1
    assert expected in result.output
    assert not out.exists()


def test_meta_without_an_ad_account_needs_no_ads_read(meta: MetaSandbox, write_config) -> None:
    meta.nodes.set_scopes(meta.access_token, ["ads_management"])
    config = meta_config(write_config, meta, ad_account_id=None)
    assert run(config, "meta", "--check-only", token=meta.access_token).exit_code == 0


# debug_token's ``data`` as Meta documents it (graph-api/reference/debug_token): a user token
# carries an expires_at, an expired one is_valid false with the error inside ``data``.
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {
                "is_valid": True,
                "type": "USER",
                "expires_at": int(time.time()) + 86400,
                "scopes": ["ads_management", "ads_read"],
            },
            "expires on",
        ),
        (
            {
                "is_valid": False,
                "scopes": [],
                "error": {"code": 190, "subcode": 463, "message": "Session has expired"},
            },
            "Session has expired",
        ),
    ],
)
def test_meta_token_problems_from_debug_token_data(data: dict, expected: str) -> None:
    from platforms.meta.auth import token_problems

    assert any(expected in p for p in token_problems(data, needs_insights=True))
    system_user = {"is_valid": True, "expires_at": 0, "scopes": ["ads_management", "ads_read"]}
    assert token_problems(system_user, needs_insights=True) == []


def test_meta_pixels_lists_the_ad_accounts_pixels(meta: MetaSandbox, write_config) -> None:
    fired = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    meta.pixels.add_pixel("2222222222222222", "Checkout pixel", last_fired=fired)
    meta.pixels.add_pixel("3333333333333333", "Other account", ad_account_id="999")
    config = meta_config(write_config, meta, access_token=meta.access_token)
    result = CliRunner().invoke(cli, ["-c", str(config), "meta", "pixels"])
    assert result.exit_code == 0, result.output
    assert "2222222222222222" in result.output and "Checkout pixel" in result.output
    assert "2026-11-30T08:15:00+0000" in result.output
    assert meta.pixel_id in result.output and "never" in result.output
    assert "3333333333333333" not in result.output


def test_meta_pixels_pages_through_every_pixel(meta: MetaSandbox, write_config) -> None:
    for n in range(30):  # more than Graph's default page of 25
        meta.pixels.add_pixel(f"44440000000000{n:02d}", f"pixel {n}")
    config = meta_config(write_config, meta, access_token=meta.access_token)
    result = CliRunner().invoke(cli, ["-c", str(config), "meta", "pixels"])
    assert result.exit_code == 0, result.output
    assert "4444000000000029" in result.output and "4444000000000000" in result.output


def test_meta_pixels_with_a_bad_token_says_meta_refused(meta: MetaSandbox, write_config) -> None:
    config = meta_config(write_config, meta, access_token="EAAB-wrong")
    result = CliRunner().invoke(cli, ["-c", str(config), "meta", "pixels"])
    assert result.exit_code == 1
    assert "Meta refused" in result.output


def hubspot_config(write_config, box: HubSpotSandbox) -> Path:
    return write_config({"hubspot": {"enabled": True, "base_url": box.url}})


def test_hubspot_private_app_token_with_every_scope_passes(
    hubspot: HubSpotSandbox, write_config, tmp_path: Path
) -> None:
    out = tmp_path / "hubspot_token"
    config = hubspot_config(write_config, hubspot)
    result = run(config, "hubspot", "-o", str(out), token=hubspot.access_token)
    assert result.exit_code == 0, result.output
    assert "crm.schemas.contacts.write" in result.output  # the instructions name it
    assert out.read_text().strip() == hubspot.access_token
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert hubspot.access_token not in result.output


def test_hubspot_token_without_the_schema_scope_fails(
    hubspot: HubSpotSandbox, write_config
) -> None:
    scopes = ["crm.objects.deals.read", "crm.objects.contacts.read", "crm.objects.contacts.write"]
    hubspot.token_scopes.scopes = scopes
    result = run(hubspot_config(write_config, hubspot), "hubspot", token=hubspot.access_token)
    assert result.exit_code == 1
    assert "lacks crm.schemas.contacts.write" in result.output


def test_hubspot_unknown_token_fails(hubspot: HubSpotSandbox, write_config) -> None:
    result = run(hubspot_config(write_config, hubspot), "hubspot", token="pat-na1-made-up")
    assert result.exit_code == 1
    assert "not valid" in result.output


def test_hubspot_oauth_access_token_goes_through_the_sdk(
    hubspot: HubSpotSandbox, write_config
) -> None:
    from platforms.hubspot.sandbox.token_info import DEFAULT_SCOPES

    hubspot.tokens.add_token("CKDZoauth", DEFAULT_SCOPES, expires_in=1800)
    hubspot.tokens.add_token("CKDZexpired", DEFAULT_SCOPES, expires_in=-1)
    config = hubspot_config(write_config, hubspot)
    ok = run(config, "hubspot", "--check-only", token="CKDZoauth")
    assert ok.exit_code == 0, ok.output
    assert "OAuth app" in ok.output
    assert hubspot.requests_by_endpoint == {}  # no CRM call was needed
    expired = run(config, "hubspot", "--check-only", token="CKDZexpired")
    assert expired.exit_code == 1 and "404" in expired.output
