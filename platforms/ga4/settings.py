"""The ``platforms.ga4`` config section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from connector.config.checks import HttpUrl, Secret
from platforms.google_settings import GA4MeasurementId, GoogleCredentials
from platforms.settings import PlatformSettings


class GA4Settings(PlatformSettings):
    """GA4: purchases through the Measurement Protocol, sessions from the Data API."""

    measurement_id: GA4MeasurementId | None = None
    api_secret: Secret = None
    property_id: str | None = None
    credentials: GoogleCredentials | None = None
    measurement_protocol_url: HttpUrl = "https://www.google-analytics.com"
    data_api_endpoint: str = "analyticsdata.googleapis.com"
    validate_events: bool = Field(default=False, alias="validate")
    send_user_id: bool = False
    event_name: str = "purchase"
    concurrency: Annotated[int, Field(ge=1, le=256)] = 32
    split: bool | None = None
    #: Events older than GA4's 72-hour backdating window: sent without ``timestamp_micros``
    #: (GA4 dates them at receipt, the revenue still arrives) or skipped (GA4's dates stay right).
    late_events: Literal["send_at_receipt", "skip"] = "send_at_receipt"
    #: Privacy requests (``closedloop forget``) also call GA4's User Deletion API for the
    #: person's client IDs. Needs ``property_id`` and credentials granted ``analytics.edit``.
    user_deletion: bool = False
    admin_api_endpoint: str = "analyticsadmin.googleapis.com"

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    def snippet_options(self) -> dict[str, object]:
        """The stream's container ID, so the snippet reads the session from ``_ga_<ID>``."""
        return {"gaContainer": (self.measurement_id or "").removeprefix("G-") or None}

    @model_validator(mode="after")
    def _complete(self) -> GA4Settings:
        if self.enabled and (missing := self.required("measurement_id", "api_secret")):
            raise ValueError(f"enabled but missing {', '.join(missing)}")
        needed = self.enabled and self.user_deletion
        if needed and (missing := self.required("property_id", "credentials")):
            raise ValueError(f"user_deletion needs {', '.join(missing)}")
        return self
