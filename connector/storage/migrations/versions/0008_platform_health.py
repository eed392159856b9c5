"""Platform health and counters every process shares; why conversions were not planned.

``platform_status`` gains when the last error happened and since when the platform has been
failing, so readiness can tell a source that stopped pulling from one that never started, and
the dashboard can say "failing since". ``not_planned`` keeps, per deal and destination, why
nothing was planned (too old for the platform, no identifier it takes, contacts never
tracked), so the delivery report can list what was not sent and why, with counts.
``counters`` holds totals that only grow (tracking hits stored, rejected by reason,
rate-limited; CRM write-back failures) that each process adds to, so ``/metrics`` answers the
same whichever worker or replica is scraped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("platform_status", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", "label", name=op.f("pk_counters")),
    )
    op.create_table(
        "not_planned",
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=32), nullable=False),
        sa.Column("what", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("deal_id", "destination", "what", name=op.f("pk_not_planned")),
    )


def downgrade() -> None:
    op.drop_table("not_planned")
    op.drop_table("counters")
    with op.batch_alter_table("platform_status", schema=None) as batch_op:
        batch_op.drop_column("failing_since")
        batch_op.drop_column("last_error_at")
