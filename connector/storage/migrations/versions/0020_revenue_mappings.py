"""The CSV column mapping of each revenue source, saved by the dashboard's upload page.

``revenue_mappings`` holds one row per source: ``{column: field}`` as last imported, offered
again for that source's next file. Nothing existing changes.

Revision ID: 0020
Revises: 0015
Create Date: 2026-12-03 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revenue_mappings",
        sa.Column("source", sa.String(length=15), nullable=False),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_revenue_mappings")),
    )


def downgrade() -> None:
    op.drop_table("revenue_mappings")
