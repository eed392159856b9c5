"""Ad clicks resolved to their campaign, ad group and keyword (Google Ads click_view).

``click_resolutions`` holds, per stored click ID, what the ad platform says it came from, so
reports can put a touch without UTMs on its campaign's row, next to the campaign's spend;
``touchpoints.click_resolution_id`` (nullable, added without a table rewrite) links the landing
touch and the pages of its session to it.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "click_resolutions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("click_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "touchpoint_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("customer_id", sa.String(length=32), nullable=True),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=True),
        sa.Column("campaign_type", sa.String(length=32), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=True),
        sa.Column("ad_group_id", sa.String(length=64), nullable=False),
        sa.Column("ad_group", sa.String(length=255), nullable=True),
        sa.Column("keyword_id", sa.String(length=64), nullable=False),
        sa.Column("keyword", sa.String(length=255), nullable=True),
        sa.Column("match_type", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["click_id"],
            ["click_ids.id"],
            name=op.f("fk_click_resolutions_click_id_click_ids"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_click_resolutions_touchpoint_id_touchpoints"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_click_resolutions")),
        sa.UniqueConstraint("click_id", name="uq_click_resolutions_click_id"),
    )
    op.add_column("touchpoints", sa.Column("click_resolution_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("touchpoints", "click_resolution_id")  # in place (SQLite >= 3.35)
    op.drop_table("click_resolutions")
