"""Deal stage events: no foreign key to deals, no index the unique key already provides.

The sync writes a stage event for every deal it stores, in the same transaction, and deals are
never deleted, so the key checked nothing the sync does not already guarantee; it cost a probe
and a row lock per event. ``(deal_id, stage)`` is unique, so its index also serves lookups by
deal: the separate ``deal_id`` index was a second write per event for nothing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 17:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deal_stage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_deal_stage_events_deal_id")
        batch_op.drop_constraint("fk_deal_stage_events_deal_id_deals", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("deal_stage_events", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_deal_stage_events_deal_id_deals",
            "deals",
            ["deal_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index("ix_deal_stage_events_deal_id", ["deal_id"], unique=False)
