"""Ads as their own level, and ad clicks resolved from the IDs in the landing URL.

Meta reports spend per ad and has no keywords: ``spend_daily`` and ``click_resolutions`` get
``ad_id`` / ``ad``, and the spend key takes ``ad_id`` (two ads of one ad set on one day are two
rows). A touch whose landing URL carries a platform's campaign/ad set/ad IDs (Meta's
``{{campaign.id}}`` macros) is resolved without a click ID, so ``click_resolutions.click_id``
becomes nullable. Existing rows keep their values (``ad_id`` ""); SQLite rebuilds the two
tables in batch mode, copying every row.

Revision ID: 0019
Revises: 0015
Create Date: 2026-12-03 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0017"
branch_labels = None
depends_on = None

SPEND_KEY = ["platform", "day", "campaign_id", "ad_group_id", "keyword_id"]


def upgrade() -> None:
    with op.batch_alter_table("spend_daily") as batch:
        batch.add_column(
            sa.Column("ad_id", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("ad", sa.String(length=255), nullable=True))
        batch.drop_constraint("uq_spend_daily_key", type_="unique")
        batch.create_unique_constraint("uq_spend_daily_key", [*SPEND_KEY, "ad_id"])
    with op.batch_alter_table("click_resolutions") as batch:
        batch.add_column(
            sa.Column("ad_id", sa.String(length=64), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("ad", sa.String(length=255), nullable=True))
        batch.alter_column(
            "click_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        )


def downgrade() -> None:
    # URL-resolved rows have no click to hang on: they go, and their touches are unlinked.
    op.execute(
        "UPDATE touchpoints SET click_resolution_id = NULL WHERE click_resolution_id IN "
        "(SELECT id FROM click_resolutions WHERE click_id IS NULL)"
    )
    op.execute("DELETE FROM click_resolutions WHERE click_id IS NULL")
    with op.batch_alter_table("click_resolutions") as batch:
        batch.alter_column(
            "click_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        )
        batch.drop_column("ad")
        batch.drop_column("ad_id")
    # Rows that differ only by ad fold into the first row of their old key, summing figures.
    same_key = " AND ".join(f"o.{c} = spend_daily.{c}" for c in SPEND_KEY)
    first = f"SELECT min(id) FROM spend_daily GROUP BY {', '.join(SPEND_KEY)}"
    sums = ", ".join(
        f"{c} = (SELECT sum(o.{c}) FROM spend_daily o WHERE {same_key})"
        for c in ("cost", "clicks", "impressions")
    )
    op.execute(f"UPDATE spend_daily SET {sums} WHERE id IN ({first} HAVING count(*) > 1)")
    op.execute(f"DELETE FROM spend_daily WHERE id NOT IN ({first})")
    with op.batch_alter_table("spend_daily") as batch:
        batch.drop_constraint("uq_spend_daily_key", type_="unique")
        batch.create_unique_constraint("uq_spend_daily_key", SPEND_KEY)
        batch.drop_column("ad")
        batch.drop_column("ad_id")
