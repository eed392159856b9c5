"""The ``platforms.linkedin_ads`` config section."""

from __future__ import annotations

import re

from pydantic import field_validator, model_validator

from connector.config.checks import HttpUrl, Secret
from platforms.settings import PlatformSettings

#: LinkedIn's conversion rule URN; the rule ID alone is accepted too (Campaign Manager shows it).
CONVERSION_URN = "urn:lla:llaPartnerConversion:"
_CONVERSION = re.compile(rf"^(?:{re.escape(CONVERSION_URN)})?(\d+)$")
#: ``LinkedIn-Version``: ``YYYYMM``, or ``YYYYMM.RR`` for a revision.
_VERSION = re.compile(r"^\d{4}(0[1-9]|1[0-2])(\.\d{2})?$")


def conversion_urn(value: str | int) -> str | None:
    """``urn:lla:llaPartnerConversion:<id>`` from a rule ID or URN; None if it is neither."""
    match = _CONVERSION.match(str(value).strip())
    return f"{CONVERSION_URN}{match.group(1)}" if match else None


class LinkedInAdsSettings(PlatformSettings):
    """LinkedIn Conversions API (``POST /rest/conversionEvents``).

    ``access_token`` is a member token with the ``rw_conversions`` scope. LinkedIn's access
    tokens live 60 days; apps approved for refresh tokens may also set ``refresh_token``,
    ``client_id`` and ``client_secret``, and the token is then renewed when LinkedIn answers
    401 (or from the start when no access token is set).
    """

    access_token: Secret = None
    refresh_token: Secret = None
    client_id: str | None = None
    client_secret: Secret = None
    #: The default conversion rule (its ID or URN); a mapping event may name its own with
    #: ``conversion_id``.
    conversion_id: str | None = None
    #: The ad account whose campaign spend the reports show (its numeric ID, or the
    #: ``urn:li:sponsoredAccount:`` URN); the token then also needs ``r_ads`` and
    #: ``r_ads_reporting``. Without it, conversions still flow.
    ad_account_id: str | None = None
    api_version: str = "202603"
    api_url: HttpUrl = "https://api.linkedin.com/rest"
    oauth_url: HttpUrl = "https://www.linkedin.com/oauth/v2"
    split: bool | None = None

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"{value!r} is not a LinkedIn-Version: write YYYYMM, like 202603")
        return value

    @field_validator("conversion_id", mode="before")
    @classmethod
    def _conversion(cls, value: object) -> object:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValueError("must be a conversion rule ID or urn:lla:llaPartnerConversion:<id>")
        urn = conversion_urn(value)
        if urn is None:
            raise ValueError(
                f"{value!r} is not a conversion rule ID (digits) or "
                "urn:lla:llaPartnerConversion:<id>"
            )
        return urn

    @model_validator(mode="after")
    def _complete(self) -> LinkedInAdsSettings:
        if not self.enabled:
            return self
        missing = self.required("conversion_id")
        refresh = ("refresh_token", "client_id", "client_secret")
        partial = [n for n in refresh if getattr(self, n) not in (None, "")]
        if partial and (gaps := self.required(*refresh)):
            missing += gaps
        elif not partial and self.access_token is None:
            missing.append("access_token")
        if missing:
            raise ValueError(f"enabled but missing {', '.join(missing)}")
        return self

    @property
    def can_refresh(self) -> bool:
        """Whether a refresh token and its app's credentials are configured."""
        return not self.required("refresh_token", "client_id", "client_secret")
