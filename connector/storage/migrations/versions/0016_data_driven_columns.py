"""Attributions: a weight and revenue column pair for each learned model (Markov, Shapley).

The sync now stores the data-driven models per deal like the five rule-based ones. Existing
rows get the linear split (what the sync itself falls back to while no model can be learned),
so reports by ``markov`` or ``shapley`` still add up to the won revenue; ``closedloop backfill``
re-credits those deals by the learned model. The downgrade drops the columns.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Fixed here, not imported: a migration must keep meaning what it meant when it was written.
LEARNED = ("markov", "shapley")


def upgrade() -> None:
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        for model in LEARNED:
            batch_op.add_column(
                sa.Column(
                    f"{model}_weight",
                    sa.Numeric(precision=12, scale=10),
                    server_default="0",
                    nullable=False,
                )
            )
            batch_op.add_column(
                sa.Column(
                    f"{model}_revenue",
                    sa.Numeric(precision=18, scale=4),
                    server_default="0",
                    nullable=False,
                )
            )
    pairs = ", ".join(f"{m}_weight = linear_weight, {m}_revenue = linear_revenue" for m in LEARNED)
    op.execute(f"UPDATE attributions SET {pairs}")


def downgrade() -> None:
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        for model in reversed(LEARNED):
            batch_op.drop_column(f"{model}_revenue")
            batch_op.drop_column(f"{model}_weight")
