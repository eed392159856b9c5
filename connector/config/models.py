"""Validated configuration: the YAML keys users rely on (see shared contracts).

Every model forbids unknown keys so that a typo fails loudly instead of silently using a
default. Secrets are ``Secret`` (a ``SecretStr`` that never prints by accident, and where
``''`` means not set); URLs, origins, time zones and IDs are checked here, not at first use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from connector.config.checks import (
    DatabaseUrl,
    GA4MeasurementId,
    GoogleCustomerId,
    HttpUrl,
    Origin,
    Secret,
    TimeZone,
    google_credentials_file,
)
from connector.config.section import Section
from platforms.settings import PlatformSettings


class DatabaseSettings(Section):
    """Where closedloop keeps its state."""

    url: DatabaseUrl = "sqlite:///closedloop.db"
    pool_size: Annotated[int, Field(ge=1, le=100)] = 5
    echo: bool = False


class ServerSettings(Section):
    """The HTTP service (tracking, ops endpoints, dashboard)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    trigger_token: Secret = None
    allowed_origins: list[Origin] = Field(default_factory=list)
    public_url: HttpUrl | None = None
    max_body_bytes: Annotated[int, Field(ge=1024)] = 65536
    rate_limit_per_minute: Annotated[int, Field(ge=1)] = 1200
    workers: Annotated[int, Field(ge=1, le=64)] = 2
    threads: Annotated[int, Field(ge=1, le=256)] = 8
    #: Longest a client may take to send one request's headers and body (slow-client bound).
    read_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0


class ScheduleSettings(Section):
    """When syncs run; either an interval or a cron expression."""

    enabled: bool = True
    interval_minutes: Annotated[int, Field(ge=1)] | None = None
    cron: str | None = None
    timezone: TimeZone = "UTC"
    delivery_interval_seconds: Annotated[int, Field(ge=1)] = 60
    lease_seconds: Annotated[int, Field(ge=10)] = 300
    #: /readyz fails once the source has gone this many sync periods without a good pull.
    stale_after_runs: Annotated[int, Field(ge=1)] = 3

    @model_validator(mode="after")
    def _one_trigger(self) -> ScheduleSettings:
        if self.interval_minutes is not None and self.cron is not None:
            raise ValueError("set either interval_minutes or cron, not both")
        if self.cron is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(self.cron, timezone=self.timezone)
            except ValueError as exc:
                raise ValueError(f"cron: not a valid crontab expression ({exc})") from exc
        if self.interval_minutes is None and self.cron is None:
            self.__dict__["interval_minutes"] = 15
        return self


class TrackingSettings(Section):
    """First-party tracking snippet and identity storage."""

    visitor_cookie: str = "cl_vid"
    cookie_domain: str | None = None
    cookie_days: Annotated[int, Field(ge=1, le=400)] = 395
    store_plain_email: bool = False
    consent_global: str | None = None
    consent_default: Literal["granted", "denied"] = "granted"
    form_selector: str | None = None
    default_phone_region: str = "US"
    #: Hits may carry the browser's timestamp; older than this (or from the future) it is
    #: replaced by the server time. Raise it to import queued or historical hits.
    accept_client_time_hours: Annotated[int, Field(ge=0, le=24 * 400)] = 24
    #: Days the browser's IP address is kept for Meta's matching (Meta takes events up to 7
    #: days old); 0 keeps none. Never shown in reports.
    ip_retention_days: Annotated[int, Field(ge=0, le=62)] = 7
    #: Reverse proxies in front of closedloop that append to X-Forwarded-For; the client's IP
    #: is the entry that many places from the right (0: the connection's own address).
    forwarded_hops: Annotated[int, Field(ge=0, le=10)] = 0


class AttributionSettings(Section):
    """Which model spreads revenue over touchpoints, and how far back journeys count."""

    model: Literal["first_click", "last_click", "linear", "time_decay", "position_based"] = (
        "last_click"
    )
    lookback_days: Annotated[int, Field(ge=1, le=730)] = 90
    half_life_days: Annotated[float, Field(gt=0)] = 7.0
    split: bool = False
    # GA4's "last non-direct click": a Direct visit (typed URL, bookmark) takes no credit while
    # the journey holds any other touch, so a returning buyer does not erase the ad that won them.
    ignore_direct: bool = True


class MappingSettings(Section):
    """Which mapping profile translates CRM fields and stages, plus per-key overrides."""

    profile: str = "hubspot"
    overrides: dict[str, Any] = Field(default_factory=dict)


class DeliverySettings(Section):
    """Retry policy for the outbox."""

    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    backoff_base_seconds: Annotated[float, Field(gt=0)] = 30.0
    backoff_max_seconds: Annotated[float, Field(gt=0)] = 6 * 3600.0
    claim_seconds: Annotated[int, Field(ge=10)] = 300
    request_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0


class ReportsSettings(Section):
    """How reports convert money: rates from other currencies into the top-level ``currency``."""

    fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    spend_lookback_days: Annotated[int, Field(ge=1, le=90)] = 3

    @field_validator("fx_rates")
    @classmethod
    def _codes(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        out = {}
        for code, rate in value.items():
            if len(code) != 3 or not code.isalpha():
                raise ValueError(f"{code!r} is not an ISO 4217 code")
            if rate <= 0:
                raise ValueError(f"rate for {code} must be positive")
            out[code.upper()] = rate
        return out


class LoggingSettings(Section):
    """One line per event; JSON for log shippers."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["text", "json"] = "text"


class DashboardSettings(Section):
    """Login for /dashboard: a username with a password hash, or a bearer token."""

    username: str | None = None
    password_hash: Secret = None
    token: Secret = None
    secret_key: Secret = None


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

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    @model_validator(mode="after")
    def _complete(self) -> GA4Settings:
        if self.enabled and (missing := self.required("measurement_id", "api_secret")):
            raise ValueError(f"enabled but missing {', '.join(missing)}")
        return self


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


class PlatformsSettings(Section):
    """One section per outside system."""

    hubspot: HubSpotSettings = Field(default_factory=HubSpotSettings)
    google_ads: GoogleAdsSettings = Field(default_factory=GoogleAdsSettings)
    ga4: GA4Settings = Field(default_factory=GA4Settings)
    meta: MetaSettings = Field(default_factory=MetaSettings)

    def enabled(self) -> list[str]:
        """Names of the platforms switched on, in a stable order."""
        return [name for name in type(self).model_fields if getattr(self, name).enabled]


class Settings(Section):
    """The whole configuration file."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    tracking: TrackingSettings = Field(default_factory=TrackingSettings)
    attribution: AttributionSettings = Field(default_factory=AttributionSettings)
    mapping: MappingSettings = Field(default_factory=MappingSettings)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    reports: ReportsSettings = Field(default_factory=ReportsSettings)
    platforms: PlatformsSettings = Field(default_factory=PlatformsSettings)
    currency: str = "USD"
    minimum_value: Decimal = Decimal("0")

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be an ISO 4217 code like USD")
        return value.upper()
