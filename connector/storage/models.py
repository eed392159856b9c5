"""SQLAlchemy models: everything closedloop knows, in one schema for SQLite and PostgreSQL.

Money is ``Numeric(18, 4)`` (never float); times are timezone-aware UTC. Every lookup the sync
makes has an index, named so migrations stay readable.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from connector.attribution.models import ALL_MODELS

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(18, 4)
#: An attribution weight: a share of 1, exact to 1e-10.
Weight = Numeric(12, 10)
# BIGINT on PostgreSQL, INTEGER on SQLite (where only INTEGER PRIMARY KEY autoincrements).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always gives them back aware.

    SQLite has no timezone type; without this, values come back naive and comparisons with
    aware times raise.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Refuse naive times; store aware ones as UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Give back an aware UTC datetime whatever the backend stored."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with stable constraint names."""

    metadata = MetaData(naming_convention=NAMING)


class Person(Base):
    """A lead or customer, keyed by the SHA-256 of their normalised email (or phone)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone_e164: Mapped[str | None] = mapped_column(String(20))
    crm_contact_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Visitor(Base):
    """One browser (first-party cookie); several may belong to one person."""

    __tablename__ = "visitors"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("persons.id", ondelete="SET NULL"), index=True
    )
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ga_client_id: Mapped[str | None] = mapped_column(String(64))
    ga_session_id: Mapped[str | None] = mapped_column(String(32))
    fbp: Mapped[str | None] = mapped_column(String(128))
    fbc: Mapped[str | None] = mapped_column(String(512))
    hubspotutk: Mapped[str | None] = mapped_column(String(64), index=True)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    consent_ad_user_data: Mapped[bool | None] = mapped_column(Boolean)
    consent_ad_personalization: Mapped[bool | None] = mapped_column(Boolean)
    #: The browser's IP address at its last hit, for Meta's matching; erased after
    #: ``tracking.ip_retention_days`` (see :mod:`connector.tracking.retention`).
    client_ip: Mapped[str | None] = mapped_column(String(45))
    client_ip_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class ConsentUpdate(Base):
    """A consent signal the page sent after its page view (Consent Mode update, callback).

    The newest signal before a conversion decides what the platforms may receive, so an update
    is kept with its time, like a page view's, instead of only overwriting the visitor.
    """

    __tablename__ = "consent_updates"
    __table_args__ = (Index("ix_consent_updates_visitor_time", "visitor_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent_ad_user_data: Mapped[bool | None] = mapped_column(Boolean)
    consent_ad_personalization: Mapped[bool | None] = mapped_column(Boolean)


class DroppedInput(Base):
    """How many values tracking dropped as malformed, per day and reason (for /metrics)."""

    __tablename__ = "dropped_inputs"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class Touchpoint(Base):
    """One page view with its parsed source; the unit attribution spreads revenue over."""

    __tablename__ = "touchpoints"
    __table_args__ = (
        Index("ix_touchpoints_visitor_time", "visitor_id", "occurred_at"),
        Index("ix_touchpoints_occurred_at", "occurred_at"),
        Index("ix_touchpoints_channel_time", "channel", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    url: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(2048))
    referrer: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(512))
    source: Mapped[str | None] = mapped_column(String(255))
    medium: Mapped[str | None] = mapped_column(String(255))
    campaign: Mapped[str | None] = mapped_column(String(255))
    term: Mapped[str | None] = mapped_column(String(255))
    content: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str] = mapped_column(String(64), default="Direct")
    is_new_session: Mapped[bool] = mapped_column(Boolean, default=True)
    click_ids: Mapped[dict[str, str] | None] = mapped_column(JSON)
    ga_client_id: Mapped[str | None] = mapped_column(String(64))
    ga_session_id: Mapped[str | None] = mapped_column(String(32))
    fbp: Mapped[str | None] = mapped_column(String(128))
    fbc: Mapped[str | None] = mapped_column(String(512))
    consent_ad_user_data: Mapped[bool | None] = mapped_column(Boolean)
    consent_ad_personalization: Mapped[bool | None] = mapped_column(Boolean)
    #: The resolved ad click of this touch's session (``click_resolutions.id``): reports take
    #: campaign and keyword from it. Set on the landing touch and the pages of its session.
    click_resolution_id: Mapped[int | None] = mapped_column(BigInteger)


class ClickId(Base):
    """An ad click ID with the time it was first seen: platforms need the click time."""

    __tablename__ = "click_ids"
    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_click_ids_kind_value"),
        Index("ix_click_ids_visitor", "visitor_id", "first_seen_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[str] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(512))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    touchpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("touchpoints.id", ondelete="SET NULL")
    )


class ClickResolution(Base):
    """Where a stored ad click came from, as its ad platform reports it (Google's click_view).

    With auto-tagging and no UTMs a touch only carries a click ID; this row names its
    campaign, ad group and keyword by the platform's IDs, so reports group the touch's revenue
    with the campaign's spend, and ``channel`` (from the campaign type) files both on the same
    GA4 channel. ``resolved`` is False when the platform was asked and did not know the click;
    ``checked_at`` then says when, so it is asked again only while the platform may still add it.
    """

    __tablename__ = "click_resolutions"
    __table_args__ = (UniqueConstraint("click_id", name="uq_click_resolutions_click_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: NULL for a resolution read from the landing URL's ad IDs (``url_ids``): one row per
    #: platform campaign/ad set/ad, shared by every touch that carried those IDs.
    click_id: Mapped[int | None] = mapped_column(ForeignKey("click_ids.id", ondelete="CASCADE"))
    touchpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("touchpoints.id", ondelete="SET NULL")
    )
    platform: Mapped[str] = mapped_column(String(32))
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customer_id: Mapped[str | None] = mapped_column(String(32))
    campaign_id: Mapped[str] = mapped_column(String(64), default="")
    campaign: Mapped[str | None] = mapped_column(String(255))
    campaign_type: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(64))
    ad_group_id: Mapped[str] = mapped_column(String(64), default="")
    ad_group: Mapped[str | None] = mapped_column(String(255))
    keyword_id: Mapped[str] = mapped_column(String(64), default="")
    keyword: Mapped[str | None] = mapped_column(String(255))
    match_type: Mapped[str | None] = mapped_column(String(16))
    ad_id: Mapped[str] = mapped_column(String(64), default="")
    ad: Mapped[str | None] = mapped_column(String(255))


class Lead(Base):
    """A conversion on the website (form) or phone (call) that tied a visitor to a person."""

    __tablename__ = "leads"
    __table_args__ = (Index("ix_leads_occurred_at", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    visitor_id: Mapped[str | None] = mapped_column(
        ForeignKey("visitors.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="form")
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    page_url: Mapped[str | None] = mapped_column(Text)
    crm_status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    crm_attempts: Mapped[int] = mapped_column(Integer, default=0)
    crm_next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    crm_error: Mapped[str | None] = mapped_column(Text)


class Deal(Base):
    """A CRM deal as last seen, so the next sync can tell what changed."""

    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_close_time", "close_time"),
        Index("ix_deals_stage", "pipeline", "stage"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(512))
    pipeline: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(64))
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    close_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    modified_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_ids: Mapped[list[str] | None] = mapped_column(JSON)
    first_touch_channel: Mapped[str | None] = mapped_column(String(64))
    first_touch_source: Mapped[str | None] = mapped_column(String(255))
    last_touch_channel: Mapped[str | None] = mapped_column(String(64))
    last_touch_source: Mapped[str | None] = mapped_column(String(255))
    match_status: Mapped[str | None] = mapped_column(String(32))
    skip_reason: Mapped[str | None] = mapped_column(Text)
    sent_amount: Mapped[Decimal | None] = mapped_column(Money)
    sent_currency: Mapped[str | None] = mapped_column(String(3))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    #: The deal's recurring (monthly) amount, in ``currency``, from the profile's optional
    #: ``deal.recurring_amount`` property; NULL when unmapped or not a number (reports: MRR).
    recurring_amount: Mapped[Decimal | None] = mapped_column(Money)


class DealStageEvent(Base):
    """A stage the deal was seen entering, for the opportunity (funnel) report.

    No foreign key: the sync writes events only with their deal, and deals are never deleted
    (see migration 0004). The unique key's index serves lookups by deal.
    """

    __tablename__ = "deal_stage_events"
    __table_args__ = (UniqueConstraint("deal_id", "stage", name="uq_deal_stage_events_deal_stage"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(String(64))
    pipeline: Mapped[str | None] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Attribution(Base):
    """A deal's credit to one touchpoint under every model, for reports.

    One row per credited touch with a weight and a revenue column per model (see
    ``MODEL_COLUMNS``), not one row per (model, touch): the sync writes these for every deal it
    reads, and a fifth of the rows is a fifth of the writes and index entries. A model that
    gives the touch no credit (first click on a later touch) holds zeros there.

    No foreign keys: the sync replaces a deal's rows whole, and ``closedloop forget`` deletes a
    person's rows explicitly before their touchpoints. A key check per row was the largest
    single cost of a PostgreSQL sync (two index probes and a row lock per inserted row).
    """

    __tablename__ = "attributions"
    __table_args__ = {"sqlite_with_rowid": False}  # the primary key is the table's only tree

    deal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    touchpoint_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    currency: Mapped[str] = mapped_column(String(3))
    first_click_weight: Mapped[Decimal] = mapped_column(Weight)
    first_click_revenue: Mapped[Decimal] = mapped_column(Money)
    last_click_weight: Mapped[Decimal] = mapped_column(Weight)
    last_click_revenue: Mapped[Decimal] = mapped_column(Money)
    linear_weight: Mapped[Decimal] = mapped_column(Weight)
    linear_revenue: Mapped[Decimal] = mapped_column(Money)
    time_decay_weight: Mapped[Decimal] = mapped_column(Weight)
    time_decay_revenue: Mapped[Decimal] = mapped_column(Money)
    position_based_weight: Mapped[Decimal] = mapped_column(Weight)
    position_based_revenue: Mapped[Decimal] = mapped_column(Money)
    # Learned models (migration 0016): zero by default so rows written without them still
    # insert; the sync always writes them.
    markov_weight: Mapped[Decimal] = mapped_column(Weight, server_default="0")
    markov_revenue: Mapped[Decimal] = mapped_column(Money, server_default="0")
    shapley_weight: Mapped[Decimal] = mapped_column(Weight, server_default="0")
    shapley_revenue: Mapped[Decimal] = mapped_column(Money, server_default="0")


#: (weight column, revenue column) of each attribution model, by model name.
MODEL_COLUMNS: dict[str, tuple[str, str]] = {
    model: (f"{model}_weight", f"{model}_revenue") for model in ALL_MODELS
}


def model_weight(model: str) -> Any:
    """The attribution weight column of ``model`` (KeyError for an unknown model)."""
    return getattr(Attribution, MODEL_COLUMNS[model][0])


def model_revenue(model: str) -> Any:
    """The attribution revenue column of ``model``."""
    return getattr(Attribution, MODEL_COLUMNS[model][1])


class Conversion(Base):
    """The outbox: one row per (deal, destination, kind, key), written before anything is sent.

    ``dedup_key`` is the platform's own dedup key (Google ``order_id``/``transaction_id``, Meta
    ``event_id``, GA4 ``transaction_id``), derived from the deal, so a resend after an unknown
    outcome is harmless and a re-plan can never double.
    """

    __tablename__ = "conversions"
    __table_args__ = (
        UniqueConstraint("destination", "kind", "dedup_key", name="uq_conversions_dest_kind_key"),
        Index("ix_conversions_due", "status", "next_attempt_at"),
        Index("ix_conversions_deal", "deal_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(String(64))
    destination: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16), default="conversion")
    event_name: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str] = mapped_column(String(128))
    adjusts_key: Mapped[str | None] = mapped_column(String(128))
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    value: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    event_time: Mapped[datetime] = mapped_column(UTCDateTime)
    identifiers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason_code: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    platform_ref: Mapped[str | None] = mapped_column(String(256))
    diagnostics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SyncRun(Base):
    """One sync: who started it, how it went, and its per-platform summary."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_started_at", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    trigger: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    holder: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)


class Cursor(Base):
    """Where an incremental pull stopped (e.g. HubSpot deals' last-modified time)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Lease(Base):
    """A named lock with an expiry: only one holder at a time across processes and hosts."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InstallationSecret(Base):
    """A secret made once per installation (database) and shared by every process using it.

    Several gunicorn workers, replicas and the CLI all sign with the same key; a key per
    process would reject what another process signed.
    """

    __tablename__ = "installation_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DashboardSession(Base):
    """A dashboard login, by the SHA-256 of its session ID: deleting the row ends it everywhere."""

    __tablename__ = "dashboard_sessions"
    __table_args__ = (Index("ix_dashboard_sessions_expires_at", "expires_at"),)

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed log-ins per client address or user name, shared by every process."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PlatformStatus(Base):
    """Last outcome per platform, for /readyz and the dashboard."""

    __tablename__ = "platform_status"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: When the current run of failures began (cleared by a success), for staleness and banners.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotPlanned(Base):
    """Why a deal planned nothing for a destination (``what``: the rule, or the adjustment).

    Replaced whenever the deal is planned again; a conversion row planned later for the same
    deal and destination supersedes it (the report checks).
    """

    __tablename__ = "not_planned"

    deal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    destination: Mapped[str] = mapped_column(String(32), primary_key=True)
    what: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str] = mapped_column(String(255))
    event_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Counter(Base):
    """A total that only grows (hits stored, rejected by reason...), added to by every process."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class SpendDaily(Base):
    """Cost and clicks per day and campaign/ad group/keyword from an ad platform."""

    __tablename__ = "spend_daily"
    __table_args__ = (
        UniqueConstraint(
            "platform",
            "day",
            "campaign_id",
            "ad_group_id",
            "keyword_id",
            "ad_id",
            name="uq_spend_daily_key",
        ),
        Index("ix_spend_daily_day", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))
    campaign_id: Mapped[str] = mapped_column(String(64), default="")
    campaign: Mapped[str | None] = mapped_column(String(255))
    ad_group_id: Mapped[str] = mapped_column(String(64), default="")
    ad_group: Mapped[str | None] = mapped_column(String(255))
    keyword_id: Mapped[str] = mapped_column(String(64), default="")
    keyword: Mapped[str | None] = mapped_column(String(255))
    #: The ad (Meta's finest level); "" for platforms that report spend by keyword.
    ad_id: Mapped[str] = mapped_column(String(64), default="")
    ad: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(255))
    medium: Mapped[str | None] = mapped_column(String(255))
    channel: Mapped[str | None] = mapped_column(String(64))
    currency: Mapped[str | None] = mapped_column(String(3))
    cost: Mapped[Decimal] = mapped_column(Money, default=Decimal("0"))
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    impressions: Mapped[int] = mapped_column(BigInteger, default=0)


class SessionsDaily(Base):
    """GA4 sessions per day and source/medium/campaign from the Data API."""

    __tablename__ = "sessions_daily"
    __table_args__ = (
        UniqueConstraint("day", "source", "medium", "campaign", name="uq_sessions_daily_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(255), default="")
    medium: Mapped[str] = mapped_column(String(255), default="")
    campaign: Mapped[str] = mapped_column(String(255), default="")
    sessions: Mapped[int] = mapped_column(BigInteger, default=0)
    engaged_sessions: Mapped[int] = mapped_column(BigInteger, default=0)
    bounce_rate: Mapped[Decimal | None] = mapped_column(Numeric(8, 6))


class CrmStage(Base):
    """Pipeline stages in their display order, from the CRM's pipelines API."""

    __tablename__ = "crm_stages"

    pipeline: Mapped[str] = mapped_column(String(64), primary_key=True)
    stage: Mapped[str] = mapped_column(String(64), primary_key=True)
    label: Mapped[str | None] = mapped_column(String(255))
    display_order: Mapped[int] = mapped_column(Integer, default=0)
    probability: Mapped[Decimal | None] = mapped_column(Numeric(5, 4))
    is_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_won: Mapped[bool] = mapped_column(Boolean, default=False)


class LifecycleEvent(Base):
    """When a CRM contact entered a lifecycle milestone (``mql`` or ``sql``), for the reports.

    One row per (contact, milestone) with the CRM's own time. The person link is the hashed
    normalised email (``connector.identity.email_key``), joined at query time, so a contact
    pulled before its person exists is credited once the person shows up; contacts without an
    email are kept by contact ID alone.
    """

    __tablename__ = "lifecycle_events"
    __table_args__ = (
        UniqueConstraint("contact_id", "stage", name="uq_lifecycle_events_contact_stage"),
        Index("ix_lifecycle_events_stage_entered", "stage", "entered_at"),
        Index("ix_lifecycle_events_email", "email_sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    contact_id: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    crm_stage: Mapped[str | None] = mapped_column(String(64))
    email_sha256: Mapped[str | None] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: The contact's ad-platform lead-form lead ID (``mapping.lifecycle.lead_id``), if any:
    #: lead-stage conversions carry it so the platform matches the lead it generated.
    crm_lead_id: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ErasureRequest(Base):
    """One thing a privacy request asks an outside system to erase, until it is done.

    Written in the same transaction as the local erase, so a platform that is down never costs
    the local erase and is asked again later. ``item`` holds the identifier the platform needs
    (a CRM contact ID, a GA4 client ID) only until the platform confirmed; then it is emptied and
    ``result`` keeps what was done.
    """

    __tablename__ = "erasure_requests"
    __table_args__ = (Index("ix_erasure_requests_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: The platform (registry name) and its role there: ``crm`` or ``destination``.
    place: Mapped[str] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    item: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RevenueSale(Base):
    """A sale from a revenue source other than the CRM, as last received (``POST /revenue``).

    The revenue step hands these to the sync as deals (``revenue:<source>:<order_id>``), so
    they are matched, attributed, planned and adjusted exactly like CRM deals. ``digest`` is the
    hash of the normalised sale: a repeat with the same content leaves the row (and its
    ``modified_at``, which the revenue step pages on) as it was, so a repeat plans nothing.
    A privacy request strips the buyer's identifiers from ``sale`` (``connector.revenue.privacy``).
    """

    __tablename__ = "revenue_sales"
    __table_args__ = (
        Index("ix_revenue_sales_modified", "modified_at", "id"),
        Index("ix_revenue_sales_email_sha256", "email_sha256"),
        Index("ix_revenue_sales_visitor_id", "visitor_id"),
        Index("ix_revenue_sales_source", "source"),
    )

    #: The deal ID the sale becomes: ``revenue:<source>:<order_id>``.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(15))
    order_id: Mapped[str] = mapped_column(String(40))
    sale: Mapped[dict[str, Any]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    #: The buyer's email hash and visitor ID, so a privacy request finds their sales.
    email_sha256: Mapped[str | None] = mapped_column(String(64))
    visitor_id: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadValue(Base):
    """A learned expected revenue of a lead at one stage, for one source, on one day.

    ``channel``/``campaign`` are empty for the levels above them: ('', '') is the stage's
    overall value, (channel, '') a channel's, (channel, campaign) a campaign's. The inputs are
    kept beside the value (``n`` leads, the ``revenue`` they were won, the ``prior_weight`` and
    the ``overall`` value shrunk toward), so every value sent can be recomputed by hand
    (see :mod:`connector.leadvalue.shrink`).
    """

    __tablename__ = "lead_values"
    __table_args__ = (
        UniqueConstraint(
            "learned_on", "stage", "channel", "campaign", name="uq_lead_values_day_group"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    learned_on: Mapped[date] = mapped_column(Date)
    stage: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(64), default="")
    campaign: Mapped[str] = mapped_column(String(255), default="")
    n: Mapped[int] = mapped_column(Integer)
    revenue: Mapped[Decimal] = mapped_column(Money)
    prior_weight: Mapped[Decimal] = mapped_column(Money)
    overall: Mapped[Decimal] = mapped_column(Money)
    value: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    window_days: Mapped[int] = mapped_column(Integer)
    learned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadPrediction(Base):
    """The value predicted for one person's entry into one lead stage, planned once.

    One row per (``lead_key``, ``stage``): written in the transaction that plans the stage's
    outbox rows, so it is also the marker that the entry was planned (a re-run finds it and
    plans nothing). The report sets ``value`` against the revenue the lead later produced.
    """

    __tablename__ = "lead_predictions"
    __table_args__ = (
        UniqueConstraint("lead_key", "stage", name="uq_lead_predictions_key_stage"),
        Index("ix_lead_predictions_entered", "entered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    #: ``c<CRM contact ID>`` for lifecycle stages, ``p<person ID>`` for a lead on the site.
    lead_key: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16))
    person_id: Mapped[int | None] = mapped_column(BigInteger)
    contact_id: Mapped[str | None] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[str] = mapped_column(String(64))
    campaign: Mapped[str] = mapped_column(String(255))
    value: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    lead_value_id: Mapped[int | None] = mapped_column(BigInteger)
    #: Outbox rows planned for it (0: no destination could take it; see ``not_planned``).
    rows_planned: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RevenueMapping(Base):
    """The CSV column mapping last imported for a revenue source (the upload page's default).

    ``{column: field}`` as ``closedloop import revenue --map`` takes it; a column mapped to
    ``""`` is ignored even when it is named like a field.
    """

    __tablename__ = "revenue_mappings"

    source: Mapped[str] = mapped_column(String(15), primary_key=True)
    mapping: Mapped[dict[str, str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
