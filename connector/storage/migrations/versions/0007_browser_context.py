"""Browser context for Meta: the visitor's IP (kept a few days), consent updates, drop counts.

``visitors.client_ip`` holds the address of the browser's last hit for as long as the
platforms can use it (``tracking.ip_retention_days``; ``client_ip_at`` is indexed so the purge
finds expired rows without a scan). ``consent_updates`` keeps consent signals sent after a page
view with their time. ``dropped_inputs`` counts malformed values tracking dropped, per day and
reason. Nothing existing changes, so the upgrade loses nothing and splits nothing.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTERs, never a batch copy: rebuilding ``visitors`` on SQLite would drop the table
    # its touchpoints point at, and with foreign keys on that deletes them (ON DELETE CASCADE).
    op.add_column("visitors", sa.Column("client_ip", sa.String(length=45), nullable=True))
    op.add_column("visitors", sa.Column("client_ip_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_visitors_client_ip_at", "visitors", ["client_ip_at"], unique=False)
    op.create_table(
        "consent_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("visitor_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_ad_user_data", sa.Boolean(), nullable=True),
        sa.Column("consent_ad_personalization", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(
            ["visitor_id"],
            ["visitors.id"],
            name="fk_consent_updates_visitor_id_visitors",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consent_updates"),
    )
    op.create_index(
        "ix_consent_updates_visitor_time", "consent_updates", ["visitor_id", "occurred_at"]
    )
    op.create_table(
        "dropped_inputs",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "reason", name="pk_dropped_inputs"),
    )


def downgrade() -> None:
    op.drop_table("dropped_inputs")
    op.drop_index("ix_consent_updates_visitor_time", table_name="consent_updates")
    op.drop_table("consent_updates")
    op.drop_index("ix_visitors_client_ip_at", table_name="visitors")
    op.drop_column("visitors", "client_ip_at")  # SQLite >= 3.35 drops a column in place
    op.drop_column("visitors", "client_ip")
