"""Lead values learned per stage and source, and the value predicted for each lead sent.

``lead_values`` keeps each learned value with its inputs and the day it was learned;
``lead_predictions`` one row per (person, stage) planned, which is also what stops a re-run
from planning it again. Nothing existing changes.

Revision ID: 0017
Revises: 0015 (rebase onto 0016 when data-driven attribution's migration lands)
Create Date: 2026-12-03 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0015"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MONEY = sa.Numeric(18, 4)


def upgrade() -> None:
    op.create_table(
        "lead_values",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("learned_on", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("revenue", _MONEY, nullable=False),
        sa.Column("prior_weight", _MONEY, nullable=False),
        sa.Column("overall", _MONEY, nullable=False),
        sa.Column("value", _MONEY, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_values")),
        sa.UniqueConstraint(
            "learned_on", "stage", "channel", "campaign", name="uq_lead_values_day_group"
        ),
    )
    op.create_table(
        "lead_predictions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("lead_key", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("person_id", sa.BigInteger(), nullable=True),
        sa.Column("contact_id", sa.String(length=64), nullable=True),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("campaign", sa.String(length=255), nullable=False),
        sa.Column("value", _MONEY, nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lead_value_id", sa.BigInteger(), nullable=True),
        sa.Column("rows_planned", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_predictions")),
        sa.UniqueConstraint("lead_key", "stage", name="uq_lead_predictions_key_stage"),
    )
    with op.batch_alter_table("lead_predictions", schema=None) as batch_op:
        batch_op.create_index("ix_lead_predictions_entered", ["entered_at"])


def downgrade() -> None:
    with op.batch_alter_table("lead_predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_predictions_entered")
    op.drop_table("lead_predictions")
    op.drop_table("lead_values")
