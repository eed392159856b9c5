"""Settings pieces both Google platforms (Ads and GA4) use: credentials and Google's ID forms.

Shared by ``platforms/google_ads/settings.py`` and ``platforms/ga4/settings.py`` the way
``platforms/google_auth.py`` shares the credentials' loading: both are Google's rules.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, model_validator

from connector.config.checks import HttpUrl, Secret
from connector.config.section import Section

GA4_MEASUREMENT_ID = re.compile(r"G-[A-Z0-9]+")
#: Google's documentation writes the placeholder as G-XXXXXXXXXX; no stream has that ID.
GA4_PLACEHOLDER = re.compile(r"G-X{4,}")
GOOGLE_CREDENTIAL_TYPES = ("authorized_user", "service_account")


def ga4_measurement_id(value: str) -> str:
    """A GA4 web stream's measurement ID (``G-`` and letters/digits), not the docs' placeholder."""
    if value.upper().startswith("UA-"):
        raise ValueError(
            f"{value!r} is a Universal Analytics property ID; GA4 needs the measurement ID "
            "(G-...) of a web data stream (Admin > Data streams)"
        )
    if GA4_PLACEHOLDER.fullmatch(value):
        raise ValueError(
            f"{value!r} is the example's placeholder: use your data stream's measurement ID"
        )
    if not GA4_MEASUREMENT_ID.fullmatch(value):
        raise ValueError(f"{value!r} is not a GA4 measurement ID like G-1A2B3C4D5E")
    return value


def google_customer_id(value: Any) -> Any:
    """A Google Ads customer ID: ten digits, dashes allowed (``123-456-7890``)."""
    if value is None:
        return None
    digits = str(value).replace("-", "").strip()
    if not digits.isdigit() or len(digits) != 10:
        raise ValueError(
            f"{value!r} is not a Google Ads customer ID (10 digits, like 123-456-7890)"
        )
    return digits


def google_credentials_file(value: str) -> str:
    """A readable Google credentials JSON file (``authorized_user`` or ``service_account``)."""
    path = Path(value).expanduser()
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read credentials file {value!r}: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ValueError(f"credentials file {value!r} is not JSON") from None
    if not isinstance(info, dict) or info.get("type") not in GOOGLE_CREDENTIAL_TYPES:
        raise ValueError(
            f"{value!r} is not a Google credentials file (its type must be one of "
            f"{', '.join(GOOGLE_CREDENTIAL_TYPES)})"
        )
    return value


GA4MeasurementId = Annotated[str, AfterValidator(ga4_measurement_id)]
GoogleCustomerId = Annotated[str | None, BeforeValidator(google_customer_id)]
CredentialsFile = Annotated[str, AfterValidator(google_credentials_file)]


class InlineGoogleCredentials(Section):
    """OAuth client + refresh token given inline, or a service account's fields."""

    type: Literal["authorized_user", "service_account"] = "authorized_user"
    client_id: str | None = None
    client_secret: Secret = None
    refresh_token: Secret = None
    token_uri: HttpUrl = "https://oauth2.googleapis.com/token"
    client_email: str | None = None
    private_key: Secret = None
    private_key_id: str | None = None
    project_id: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> InlineGoogleCredentials:
        if self.type == "authorized_user":
            missing = [
                k for k in ("client_id", "client_secret", "refresh_token") if not getattr(self, k)
            ]
        else:
            missing = [k for k in ("client_email", "private_key") if not getattr(self, k)]
        if missing:
            raise ValueError(f"{self.type} credentials need {', '.join(missing)}")
        return self


def _readable_if_path(value: str | InlineGoogleCredentials) -> str | InlineGoogleCredentials:
    return google_credentials_file(value) if isinstance(value, str) else value


#: A path to Google's JSON (checked readable now, not at the first send) or the fields inline.
GoogleCredentials = Annotated[str | InlineGoogleCredentials, AfterValidator(_readable_if_path)]
