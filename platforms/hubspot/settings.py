"""The ``platforms.hubspot`` config section."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from connector.config.checks import HttpUrl, Secret
from platforms.settings import PlatformSettings


class HubSpotSettings(PlatformSettings):
    """HubSpot CRM: the source of deals and the target of touch write-back."""

    access_token: Secret = None
    client_secret: Secret = None
    base_url: HttpUrl = "https://api.hubapi.com"
    portal_id: str | None = None
    requests_per_10s: Annotated[int, Field(ge=1)] = 100

    @model_validator(mode="after")
    def _complete(self) -> HubSpotSettings:
        if self.enabled and (missing := self.required("access_token")):
            raise ValueError(f"enabled but missing {', '.join(missing)}")
        return self
