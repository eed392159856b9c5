"""Sales from revenue sources other than the CRM (``POST /revenue``).

``revenue_sales`` keeps each sale as last received, keyed by the deal ID it becomes
(``revenue:<source>:<order_id>``); the revenue step pages on ``modified_at``, a privacy request
finds a buyer's sales by ``email_sha256`` and ``visitor_id``. Nothing existing changes.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "revenue_sales",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=15), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("sale", sa.JSON(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("email_sha256", sa.String(length=64), nullable=True),
        sa.Column("visitor_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_sales")),
    )
    op.create_index(
        "ix_revenue_sales_modified", "revenue_sales", ["modified_at", "id"], unique=False
    )
    op.create_index(
        "ix_revenue_sales_email_sha256", "revenue_sales", ["email_sha256"], unique=False
    )
    op.create_index("ix_revenue_sales_visitor_id", "revenue_sales", ["visitor_id"], unique=False)
    op.create_index("ix_revenue_sales_source", "revenue_sales", ["source"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_revenue_sales_source", table_name="revenue_sales")
    op.drop_index("ix_revenue_sales_visitor_id", table_name="revenue_sales")
    op.drop_index("ix_revenue_sales_email_sha256", table_name="revenue_sales")
    op.drop_index("ix_revenue_sales_modified", table_name="revenue_sales")
    op.drop_table("revenue_sales")
