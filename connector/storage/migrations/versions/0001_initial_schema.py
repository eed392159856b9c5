"""Initial schema: tracking, identities, deals, outbox, runs, leases, spend.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 11:27:54.411340
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("event_name", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=128), nullable=False),
        sa.Column("adjusts_key", sa.String(length=128), nullable=True),
        sa.Column("options", sa.JSON(), nullable=True),
        sa.Column("value", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("identifiers", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason_code", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("platform_ref", sa.String(length=256), nullable=True),
        sa.Column("diagnostics", sa.JSON(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversions")),
        sa.UniqueConstraint(
            "destination", "kind", "dedup_key", name="uq_conversions_dest_kind_key"
        ),
    )
    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.create_index("ix_conversions_deal", ["deal_id"], unique=False)
        batch_op.create_index("ix_conversions_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "crm_stages",
        sa.Column("pipeline", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("display_order", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("is_won", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "stage", name=op.f("pk_crm_stages")),
    )
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cursors")),
    )
    op.create_table(
        "deals",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("pipeline", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("is_won", sa.Boolean(), nullable=False),
        sa.Column("is_closed", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("close_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("modified_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_ids", sa.JSON(), nullable=True),
        sa.Column("first_touch_channel", sa.String(length=64), nullable=True),
        sa.Column("first_touch_source", sa.String(length=255), nullable=True),
        sa.Column("last_touch_channel", sa.String(length=64), nullable=True),
        sa.Column("last_touch_source", sa.String(length=255), nullable=True),
        sa.Column("match_status", sa.String(length=32), nullable=True),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("sent_amount", sa.Numeric(precision=18, scale=4), nullable=True),
        sa.Column("sent_currency", sa.String(length=3), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index("ix_deals_close_time", ["close_time"], unique=False)
        batch_op.create_index("ix_deals_stage", ["pipeline", "stage"], unique=False)

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "persons",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("email_sha256", sa.String(length=64), nullable=True),
        sa.Column("phone_sha256", sa.String(length=64), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone_e164", sa.String(length=20), nullable=True),
        sa.Column("crm_contact_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_persons")),
        sa.UniqueConstraint("email_sha256", name=op.f("uq_persons_email_sha256")),
    )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_persons_crm_contact_id"), ["crm_contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_persons_phone_sha256"), ["phone_sha256"], unique=False)

    op.create_table(
        "platform_status",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("platform", name=op.f("pk_platform_status")),
    )
    op.create_table(
        "sessions_daily",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("medium", sa.String(length=255), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.Column("sessions", sa.BigInteger(), nullable=False),
        sa.Column("engaged_sessions", sa.BigInteger(), nullable=False),
        sa.Column("bounce_rate", sa.Numeric(precision=8, scale=6), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sessions_daily")),
        sa.UniqueConstraint("day", "source", "medium", "campaign", name="uq_sessions_daily_key"),
    )
    op.create_table(
        "spend_daily",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("ad_group_id", sa.String(length=64), nullable=False),
        sa.Column("ad_group", sa.String(length=255), nullable=True),
        sa.Column("keyword_id", sa.String(length=64), nullable=False),
        sa.Column("keyword", sa.String(length=255), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("medium", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("cost", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spend_daily")),
        sa.UniqueConstraint(
            "platform", "day", "campaign_id", "ad_group_id", "keyword_id", name="uq_spend_daily_key"
        ),
    )
    with op.batch_alter_table("spend_daily", schema=None) as batch_op:
        batch_op.create_index("ix_spend_daily_day", ["day"], unique=False)

    op.create_table(
        "sync_runs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_runs_started_at", ["started_at"], unique=False)

    op.create_table(
        "deal_stage_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("pipeline", sa.String(length=64), nullable=True),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_deal_stage_events_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_events")),
        sa.UniqueConstraint("deal_id", "stage", name="uq_deal_stage_events_deal_stage"),
    )
    with op.batch_alter_table("deal_stage_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deal_stage_events_deal_id"), ["deal_id"], unique=False)

    op.create_table(
        "visitors",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ga_client_id", sa.String(length=64), nullable=True),
        sa.Column("ga_session_id", sa.String(length=32), nullable=True),
        sa.Column("fbp", sa.String(length=128), nullable=True),
        sa.Column("fbc", sa.String(length=512), nullable=True),
        sa.Column("hubspotutk", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("consent_ad_user_data", sa.Boolean(), nullable=True),
        sa.Column("consent_ad_personalization", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_visitors_person_id_persons"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visitors")),
    )
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visitors_hubspotutk"), ["hubspotutk"], unique=False)
        batch_op.create_index(batch_op.f("ix_visitors_person_id"), ["person_id"], unique=False)

    op.create_table(
        "leads",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "person_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("page_url", sa.Text(), nullable=True),
        sa.Column("crm_status", sa.String(length=16), nullable=False),
        sa.Column("crm_attempts", sa.Integer(), nullable=False),
        sa.Column("crm_next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("crm_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name=op.f("fk_leads_person_id_persons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name=op.f("fk_leads_visitor_id_visitors"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_crm_status"), ["crm_status"], unique=False)
        batch_op.create_index("ix_leads_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_person_id"), ["person_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_visitor_id"), ["visitor_id"], unique=False)

    op.create_table(
        "touchpoints",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=True),
        sa.Column("referrer", sa.Text(), nullable=True),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("source", sa.String(length=255), nullable=True),
        sa.Column("medium", sa.String(length=255), nullable=True),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("term", sa.String(length=255), nullable=True),
        sa.Column("content", sa.String(length=255), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("is_new_session", sa.Boolean(), nullable=False),
        sa.Column("click_ids", sa.JSON(), nullable=True),
        sa.Column("ga_client_id", sa.String(length=64), nullable=True),
        sa.Column("ga_session_id", sa.String(length=32), nullable=True),
        sa.Column("fbp", sa.String(length=128), nullable=True),
        sa.Column("fbc", sa.String(length=512), nullable=True),
        sa.Column("consent_ad_user_data", sa.Boolean(), nullable=True),
        sa.Column("consent_ad_personalization", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name=op.f("fk_touchpoints_visitor_id_visitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_touchpoints")),
    )
    with op.batch_alter_table("touchpoints", schema=None) as batch_op:
        batch_op.create_index(
            "ix_touchpoints_channel_time", ["channel", "occurred_at"], unique=False
        )
        batch_op.create_index("ix_touchpoints_occurred_at", ["occurred_at"], unique=False)
        batch_op.create_index(
            "ix_touchpoints_visitor_time", ["visitor_id", "occurred_at"], unique=False
        )

    op.create_table(
        "attributions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column(
            "touchpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("weight", sa.Numeric(precision=12, scale=10), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_attributions_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_attributions_touchpoint_id_touchpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attributions")),
        sa.UniqueConstraint(
            "deal_id", "model", "touchpoint_id", name="uq_attributions_deal_model_tp"
        ),
    )
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.create_index("ix_attributions_model_deal", ["model", "deal_id"], unique=False)

    op.create_table(
        "click_ids",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=512), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "touchpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_click_ids_touchpoint_id_touchpoints"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name=op.f("fk_click_ids_visitor_id_visitors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_ids")),
        sa.UniqueConstraint("kind", "value", name="uq_click_ids_kind_value"),
    )
    with op.batch_alter_table("click_ids", schema=None) as batch_op:
        batch_op.create_index("ix_click_ids_visitor", ["visitor_id", "first_seen_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("click_ids", schema=None) as batch_op:
        batch_op.drop_index("ix_click_ids_visitor")

    op.drop_table("click_ids")
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_attributions_model_deal")

    op.drop_table("attributions")
    with op.batch_alter_table("touchpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_touchpoints_visitor_time")
        batch_op.drop_index("ix_touchpoints_occurred_at")
        batch_op.drop_index("ix_touchpoints_channel_time")

    op.drop_table("touchpoints")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leads_visitor_id"))
        batch_op.drop_index(batch_op.f("ix_leads_person_id"))
        batch_op.drop_index("ix_leads_occurred_at")
        batch_op.drop_index(batch_op.f("ix_leads_crm_status"))

    op.drop_table("leads")
    with op.batch_alter_table("visitors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visitors_person_id"))
        batch_op.drop_index(batch_op.f("ix_visitors_hubspotutk"))

    op.drop_table("visitors")
    with op.batch_alter_table("deal_stage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_stage_events_deal_id"))

    op.drop_table("deal_stage_events")
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_runs_started_at")

    op.drop_table("sync_runs")
    with op.batch_alter_table("spend_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_spend_daily_day")

    op.drop_table("spend_daily")
    op.drop_table("sessions_daily")
    op.drop_table("platform_status")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_persons_phone_sha256"))
        batch_op.drop_index(batch_op.f("ix_persons_crm_contact_id"))

    op.drop_table("persons")
    op.drop_table("leases")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index("ix_deals_stage")
        batch_op.drop_index("ix_deals_close_time")

    op.drop_table("deals")
    op.drop_table("cursors")
    op.drop_table("crm_stages")
    with op.batch_alter_table("conversions", schema=None) as batch_op:
        batch_op.drop_index("ix_conversions_due")
        batch_op.drop_index("ix_conversions_deal")

    op.drop_table("conversions")
