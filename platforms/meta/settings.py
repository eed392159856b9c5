"""The ``platforms.meta`` config section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from connector.config.checks import HttpUrl, Secret
from platforms.settings import PlatformSettings


class MetaSettings(PlatformSettings):
    """Meta Conversions API and Marketing API insights."""

    pixel_id: str | None = None
    access_token: Secret = None
    ad_account_id: str | None = None
    api_version: str = "v24.0"
    graph_url: HttpUrl = "https://graph.facebook.com"
    test_event_code: str | None = None
    event_name: str = "Purchase"
    action_source: Literal[
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    ] = "system_generated"
    split: bool | None = None
    #: Limited Data Use for US-state privacy laws: ``["LDU"]`` (or ``[]``), with country 1 (US)
    #: and a state code (1000 California...), or 0 and 0 for Meta to geolocate the event.
    data_processing_options: list[Literal["LDU"]] = Field(default_factory=list)
    data_processing_options_country: Literal[0, 1] = 0
    data_processing_options_state: Annotated[int, Field(ge=0, le=9999)] = 0

    @model_validator(mode="after")
    def _complete(self) -> MetaSettings:
        if self.enabled and (missing := self.required("pixel_id", "access_token")):
            raise ValueError(f"enabled but missing {', '.join(missing)}")
        return self
