"""Deals keep their recurring (monthly) amount, for the source report's new MRR.

``deals.recurring_amount`` is filled from the mapping profile's optional
``deal.recurring_amount`` property; NULL for every deal until a profile maps it and the next
sync sees the deal. Nothing existing changes.

Revision ID: 0021
Revises: 0015
Create Date: 2026-12-03 11:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deals") as batch:
        batch.add_column(
            sa.Column("recurring_amount", sa.Numeric(precision=18, scale=4), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("deals") as batch:
        batch.drop_column("recurring_amount")
