"""Stored touches take GA4's exact default channel group (and GA4's source/medium).

The channel rules now follow GA4's published definition: auto-tagging wins over UTM tags,
fbclid no longer makes a visit paid, referrers are ``<host> / referral`` grouped by Google's
source categories, webmail is Referral. Reports group by the channel stored per touch, so the
touches stored under the old rules are re-derived from their URL, referrer and click IDs, and
deals' stored first/last touch follow. Nothing is deleted; attribution weights are kept (a
backfill re-attributes deals if a touch became Direct).

Downgrade keeps the re-derived values: they are valid under the old code too, and the old
rules' values cannot be told apart from the new ones afterwards.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-02 03:40:00.000000
"""

from __future__ import annotations

from alembic import op

from connector.tracking.rederive import rederive_touchpoints, refresh_deal_touches

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    rederive_touchpoints(conn)
    refresh_deal_touches(conn)


def downgrade() -> None:
    pass
