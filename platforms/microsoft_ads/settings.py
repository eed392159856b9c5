"""The ``platforms.microsoft_ads`` config section."""

from __future__ import annotations

from pydantic import model_validator

from connector.config.checks import HttpUrl, Secret
from platforms.settings import PlatformSettings

#: Microsoft identity platform token endpoint (``common`` tenant), as the SDK uses it.
TOKEN_URL = "https://login.microsoftonline.com/common/oauth2/v2.0/token"
#: The Campaign Management service's production host (the SDK's ``ServiceClient.endpoints``).
API_URL = "https://campaign.api.bingads.microsoft.com"
#: The Reporting service's production host (``ServiceClient.endpoints["production"]``).
REPORTING_URL = "https://reporting.api.bingads.microsoft.com"
#: The scope the SDK asks for when it refreshes a production ``msads.manage`` token.
SCOPE = "https://ads.microsoft.com/msads.manage offline_access"


class MicrosoftAdsSettings(PlatformSettings):
    """Offline conversions to one Microsoft Advertising account.

    ``customer_id`` and ``account_id`` become the ``CustomerId`` and ``CustomerAccountId``
    headers; the OAuth refresh token belongs to a user with access to that account.
    ``conversion_name`` is the name of an offline conversion goal, which must exist (a mapping
    event may name another with its ``conversion_name`` option). Spend comes from the same
    account through the Reporting service at ``reporting_url`` (``platforms.microsoft_ads.spend``).
    """

    developer_token: Secret = None
    client_id: str | None = None
    #: Only for a confidential (web) app registration; desktop apps have none.
    client_secret: Secret = None
    refresh_token: Secret = None
    customer_id: str | None = None
    account_id: str | None = None
    conversion_name: str | None = None
    #: Send hashed email/phone (enhanced conversions) for deals without an msclkid. Off by
    #: default: the account must have enhanced conversions switched on first.
    enhanced_conversions: bool = False
    token_url: HttpUrl = TOKEN_URL
    api_url: HttpUrl = API_URL
    reporting_url: HttpUrl = REPORTING_URL
    scope: str = SCOPE

    @model_validator(mode="after")
    def _complete(self) -> MicrosoftAdsSettings:
        required = (
            "developer_token",
            "client_id",
            "refresh_token",
            "customer_id",
            "account_id",
            "conversion_name",
        )
        if self.enabled and (missing := self.required(*required)):
            raise ValueError(f"enabled but missing {', '.join(missing)}")
        for name in ("customer_id", "account_id"):
            value = getattr(self, name)
            if value is not None and not str(value).strip().isdigit():
                raise ValueError(f"{name} must be the numeric ID, got {value!r}")
        return self
