"""Google credentials the way Google's own libraries accept them, from our config.

``credentials`` is a path to a JSON file (``authorized_user`` or ``service_account``) or the
same fields inline. The ``token_uri`` inside is honoured, which is also how the sandbox issues
tokens locally.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from google.auth.credentials import Credentials
from pydantic import SecretStr

from connector.errors import ConfigError
from platforms.google_settings import InlineGoogleCredentials


def credentials_info(setting: str | InlineGoogleCredentials, key_path: str) -> dict[str, Any]:
    """The credentials as the dict Google's JSON files hold."""
    if isinstance(setting, str):
        try:
            info = json.loads(Path(setting).expanduser().read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {setting!r}: {exc.strerror}", path=key_path) from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{setting!r} is not valid JSON: {exc}", path=key_path) from exc
        if not isinstance(info, dict) or "type" not in info:
            raise ConfigError(f"{setting!r} is not a Google credentials file", path=key_path)
        return info
    return {
        key: value.get_secret_value() if isinstance(value, SecretStr) else value
        for key, value in setting.model_dump().items()
        if value is not None
    }


def build_credentials(
    setting: str | InlineGoogleCredentials | None, scopes: list[str], key_path: str
) -> Credentials:
    """google-auth credentials with ``scopes`` for a refresh token or a service account."""
    if setting is None:
        raise ConfigError("credentials are required", path=key_path)
    info = credentials_info(setting, key_path)
    kind = info.get("type", "authorized_user")
    if kind == "authorized_user":
        from google.oauth2.credentials import Credentials as UserCredentials

        try:
            user = UserCredentials.from_authorized_user_info(info, scopes=scopes)
        except ValueError as exc:
            raise ConfigError(str(exc), path=key_path) from exc
        # google-auth always sets Google's token_uri here; honour the one given, as documented.
        return user.with_token_uri(info["token_uri"]) if info.get("token_uri") else user
    if kind == "service_account":
        from google.oauth2 import service_account

        try:
            return service_account.Credentials.from_service_account_info(info, scopes=scopes)
        except (ValueError, KeyError) as exc:
            raise ConfigError(f"invalid service account: {exc}", path=key_path) from exc
    raise ConfigError(f"unsupported credentials type {kind!r}", path=key_path)
