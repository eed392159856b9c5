"""Lifecycle events keep the ad platform's lead-form lead ID of the contact, when it has one.

``lifecycle_events.crm_lead_id`` is filled from the mapping profile's optional
``lifecycle.lead_id`` contact property (for a contact that came from a Meta lead form, the
lead ID Meta's Conversions API matches conversion-lead events on). NULL for every row until a
profile maps it and the next lifecycle pull sees the contact. Erased with the row by forget.

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-03 12:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lifecycle_events") as batch:
        batch.add_column(sa.Column("crm_lead_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lifecycle_events") as batch:
        batch.drop_column("crm_lead_id")
