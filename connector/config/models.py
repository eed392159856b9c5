"""Validated configuration: the YAML keys users rely on (see shared contracts).

Every model forbids unknown keys so that a typo fails loudly instead of silently using a
default. Secrets are ``Secret`` (a ``SecretStr`` that never prints by accident, and where
``''`` means not set); URLs, origins, time zones and IDs are checked here, not at first use.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, create_model, field_validator, model_validator

from connector.config.checks import (
    DatabaseUrl,
    HttpUrl,
    Origin,
    Secret,
    TimeZone,
)
from connector.config.section import Section
from platforms import CRM_SOURCES, SETTINGS, load


class DatabaseSettings(Section):
    """Where closedloop keeps its state."""

    url: DatabaseUrl = "sqlite:///closedloop.db"
    #: The database password kept out of ``url``, so that it can come from a file
    #: (``password_file``: a Docker/systemd secret) like every other secret.
    password: Secret = None
    pool_size: Annotated[int, Field(ge=1, le=100)] = 5
    echo: bool = False

    @model_validator(mode="after")
    def _one_password(self) -> DatabaseSettings:
        from sqlalchemy.engine import make_url

        if self.password is not None and make_url(self.url).password:
            raise ValueError("password: url already carries a password; give it in one place")
        return self

    def connect_url(self) -> str:
        """``url`` with ``password`` in it: for the engine and pg_dump only, never for logs."""
        if self.password is None:
            return self.url
        from sqlalchemy.engine import make_url

        with_password = make_url(self.url).set(password=self.password.get_secret_value())
        return with_password.render_as_string(hide_password=False)


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
    #: Reverse proxies (nginx, Caddy, a load balancer) in front of the service, each setting
    #: X-Forwarded-For/-Proto/-Host; their values are believed for that many hops, so client
    #: IPs, HTTPS and the public host are right. 0: those headers are ignored (anyone can send
    #: them).
    trusted_proxies: Annotated[int, Field(ge=0, le=10)] = 0


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


class DataDrivenSettings(Section):
    """How the data-driven models (Markov, Shapley) learn from journeys.

    Reports learn over the window ending at the range's end; the sync over the window ending
    now, once per run, to store each deal's credit and to split ``split: true`` sends.
    """

    #: Journeys that started in this many days before a report's end are learned from.
    window_days: Annotated[int, Field(ge=7, le=730)] = 180
    #: Markov chain order: how many past channels a step remembers (1 to 3).
    markov_order: Annotated[int, Field(ge=1, le=3)] = 1
    #: Resamples for each channel's stability interval (0: none).
    bootstrap: Annotated[int, Field(ge=0, le=200)] = 10
    #: Won deals with a journey the window must hold before the sync credits by a learned
    #: model; with fewer, the deal's markov/shapley credit is the linear split (the run's
    #: summary says so and why).
    min_conversions: Annotated[int, Field(ge=1)] = 20


class AttributionSettings(Section):
    """Which model spreads revenue over touchpoints, and how far back journeys count."""

    model: Literal[
        "first_click", "last_click", "linear", "time_decay", "position_based", "markov", "shapley"
    ] = "last_click"
    lookback_days: Annotated[int, Field(ge=1, le=730)] = 90
    half_life_days: Annotated[float, Field(gt=0)] = 7.0
    split: bool = False
    # GA4's "last non-direct click": a Direct visit (typed URL, bookmark) takes no credit while
    # the journey holds any other touch, so a returning buyer does not erase the ad that won them.
    ignore_direct: bool = True
    data_driven: DataDrivenSettings = Field(default_factory=DataDrivenSettings)


class MappingSettings(Section):
    """Which mapping profile translates CRM fields and stages, plus per-key overrides."""

    #: A bundled profile (``mappings/<name>.yaml``) or a YAML path; default: the first CRM's.
    profile: str = Field(default_factory=lambda: next(iter(CRM_SOURCES), ""))
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
    #: Largest CSV the revenue upload page takes (``/dashboard/revenue``); bigger files are
    #: refused with 413 naming this key, and belong to ``closedloop import revenue``.
    max_upload_bytes: Annotated[int, Field(ge=1024)] = 100 * 1024 * 1024
    #: Where uploaded files wait between their preview and the import (default: the system's
    #: temporary directory). Behind several replicas, a directory they share.
    upload_dir: str | None = None
    #: How many of a page's panels (source table, funnel, model comparison, ...) are computed
    #: at once, each in its own database session, per process; 1 computes them in turn.
    #: Each takes a connection from ``database.pool_size``'s pool while it runs.
    panel_workers: Annotated[int, Field(ge=1, le=32)] = 4


#: A revenue source's name: part of each sale's deal ID (``revenue:<source>:<order_id>``). No
#: ``_`` or ``-``, which dedup keys write as ``_``: where the source ends stays unambiguous.
SOURCE_NAME = r"^[a-z0-9]{1,15}$"


class RevenueSourceSettings(Section):
    """One system that posts sales to ``POST /revenue`` (a shop, a billing system)."""

    #: Key of the ``X-Closedloop-Signature: sha256=<hex>`` HMAC over the raw body; without
    #: one, the source can only post with the trigger token.
    secret: Secret = None


class RevenueSettings(Section):
    """Sales from beyond the CRM: ``POST /revenue`` (see README "Revenue from other systems")."""

    sources: dict[str, RevenueSourceSettings] = Field(default_factory=dict)
    #: Seconds after a sale is posted or imported until a sync sends it (sales arriving
    #: meanwhile join that run); ``null``: sales wait for the next scheduled run.
    sync_after_seconds: Annotated[float, Field(ge=0, le=3600)] | None = 2.0

    @field_validator("sources", mode="before")
    @classmethod
    def _source_names(cls, value: Any) -> Any:
        import re

        for name in value if isinstance(value, dict) else ():
            if not re.match(SOURCE_NAME, str(name)):
                raise ValueError(f"{str(name)[:40]}: a source name is 1 to 15 of a-z and 0-9")
        if isinstance(value, dict):  # ``shop:`` alone: a source without a secret
            return {k: {} if v is None else v for k, v in value.items()}
        return value


class _Platforms(Section):
    """One section per registered platform (``platforms.PLATFORMS``), in registry order."""

    def enabled(self) -> list[str]:
        """Names of the platforms switched on, in a stable order."""
        return [name for name in type(self).model_fields if getattr(self, name).enabled]


def _platforms_model() -> type[_Platforms]:
    """The ``platforms`` section assembled from the registry: each platform owns its model."""
    fields: dict[str, Any] = {}
    for name, path in SETTINGS.items():
        model = load(path)
        fields[name] = (model, Field(default_factory=model))
    return create_model(  # type: ignore[no-any-return, call-overload]
        "PlatformsSettings",
        __base__=_Platforms,
        __module__=__name__,
        __doc__="One section per outside system.",
        **fields,
    )


PlatformsSettings = _platforms_model()


def __getattr__(name: str) -> Any:
    """The platforms' settings models by their old import path (``connector.config.models``)."""
    for path in SETTINGS.values():
        if path.rpartition(":")[2] == name:
            return load(path)
    raise AttributeError(name)


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
    revenue: RevenueSettings = Field(default_factory=RevenueSettings)
    currency: str = "USD"
    minimum_value: Decimal = Decimal("0")

    @model_validator(mode="after")
    def _one_proxy_setting(self) -> Settings:
        # Both would name the client's hop: one knob, so they can never disagree.
        if self.server.trusted_proxies and self.tracking.forwarded_hops:
            raise ValueError(
                "tracking.forwarded_hops: remove it; server.trusted_proxies already finds the "
                "client's IP (for rate limits and for the platforms)"
            )
        return self

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError("must be an ISO 4217 code like USD")
        return value.upper()
