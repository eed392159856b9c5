"""Attributions: one row per credited touch with every model's share, no foreign keys.

The old table held one row per (model, touch) with two foreign keys, and was the bulk of a
sync's writes. Existing rows are carried over: each (deal, touch) becomes one row whose model
columns hold what the old rows said (zero where a model gave the touch no row); the downgrade
splits them back, leaving out the zeros as the old sync did.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Fixed here, not imported: a migration must keep meaning what it meant when it was written.
MODELS = ("first_click", "last_click", "linear", "time_decay", "position_based")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _rename_away(old: str, new: str) -> None:
    """Rename a table out of the way; on PostgreSQL its primary key's name goes with it.

    PostgreSQL names the primary key's index in the schema's namespace, so the new table could
    not take the name ``pk_attributions`` while the old one holds it.
    """
    op.rename_table(old, new)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f'ALTER TABLE {new} RENAME CONSTRAINT "pk_{old}" TO "pk_{new}"')


def upgrade() -> None:
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_attributions_model_deal")
    _rename_away("attributions", "attributions_by_model")
    columns = [sa.Column("deal_id", sa.String(length=64), nullable=False)]
    columns.append(sa.Column("touchpoint_id", BIG_ID, autoincrement=False, nullable=False))
    columns.append(sa.Column("currency", sa.String(length=3), nullable=False))
    for model in MODELS:
        columns.append(
            sa.Column(f"{model}_weight", sa.Numeric(precision=12, scale=10), nullable=False)
        )
        columns.append(
            sa.Column(f"{model}_revenue", sa.Numeric(precision=18, scale=4), nullable=False)
        )
    op.create_table(
        "attributions",
        *columns,
        sa.PrimaryKeyConstraint("deal_id", "touchpoint_id", name=op.f("pk_attributions")),
        sqlite_with_rowid=False,
    )
    picks = ", ".join(
        f"SUM(CASE WHEN model = '{m}' THEN weight ELSE 0 END), "
        f"SUM(CASE WHEN model = '{m}' THEN revenue ELSE 0 END)"
        for m in MODELS
    )
    names = ", ".join(f"{m}_weight, {m}_revenue" for m in MODELS)
    op.execute(
        f"INSERT INTO attributions (deal_id, touchpoint_id, currency, {names}) "
        f"SELECT deal_id, touchpoint_id, MIN(currency), {picks} "
        "FROM attributions_by_model GROUP BY deal_id, touchpoint_id"
    )
    op.drop_table("attributions_by_model")


def downgrade() -> None:
    _rename_away("attributions", "attributions_per_touch")
    op.create_table(
        "attributions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("deal_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=32), nullable=False),
        sa.Column("touchpoint_id", BIG_ID, nullable=False),
        sa.Column("weight", sa.Numeric(precision=12, scale=10), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["deal_id"],
            ["deals.id"],
            name=op.f("fk_attributions_deal_id_deals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.id"],
            name=op.f("fk_attributions_touchpoint_id_touchpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attributions")),
        sa.UniqueConstraint(
            "deal_id", "model", "touchpoint_id", name="uq_attributions_deal_model_tp"
        ),
    )
    with op.batch_alter_table("attributions", schema=None) as batch_op:
        batch_op.create_index("ix_attributions_model_deal", ["model", "deal_id"], unique=False)
    for m in MODELS:
        # Only rows of touches that still exist: the old table's keys demand it.
        op.execute(
            "INSERT INTO attributions (deal_id, model, touchpoint_id, weight, revenue, currency) "
            f"SELECT a.deal_id, '{m}', a.touchpoint_id, a.{m}_weight, a.{m}_revenue, a.currency "
            "FROM attributions_per_touch a "
            "JOIN deals d ON d.id = a.deal_id JOIN touchpoints t ON t.id = a.touchpoint_id "
            f"WHERE a.{m}_weight <> 0 OR a.{m}_revenue <> 0"
        )
    op.drop_table("attributions_per_touch")
