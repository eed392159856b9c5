"""The ``platforms.google_ads`` config section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from connector.config.checks import Secret
from platforms.google_settings import GoogleCredentials, GoogleCustomerId
from platforms.settings import PlatformSettings


class GoogleAdsSettings(PlatformSettings):
    """Google Ads offline conversions: Data Manager API by default."""

    api: Literal["data_manager", "google_ads"] = "data_manager"
    customer_id: GoogleCustomerId = None
    login_customer_id: GoogleCustomerId = None
    conversion_action_id: str | None = None
    developer_token: Secret = None
    credentials: GoogleCredentials | None = None
    endpoint: str = "googleads.googleapis.com:443"
    data_manager_endpoint: str = "datamanager.googleapis.com"
    click_window_days: Annotated[int, Field(ge=1, le=90)] = 90
    adjustment_window_days: Annotated[int, Field(ge=1, le=54)] = 54
    #: Minutes after an ingest before its first RetrieveRequestStatus (Google's diagnostics
    #: guide: 30); later checks back off until a final status, for up to 24 hours.
    status_check_minutes: Annotated[float, Field(ge=0, le=24 * 60)] = 30.0
    split: bool | None = None

    @model_validator(mode="after")
    def _complete(self) -> GoogleAdsSettings:
        if not self.enabled:
            return self
        needed = ["customer_id", "conversion_action_id", "credentials"]
        if self.api == "google_ads":
            needed.append("developer_token")
        if missing := self.required(*needed):
            raise ValueError(f"enabled but missing {', '.join(missing)}")
        return self
