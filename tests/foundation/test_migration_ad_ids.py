"""Migration 0019 (ad level, URL-resolved clicks) keeps every spend row, up and down."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from connector.storage import migrate
from connector.storage.db import make_engine

SPEND = (
    "INSERT INTO spend_daily (platform, day, campaign_id, ad_group_id, keyword_id, cost, "
    "clicks, impressions) VALUES ('meta', '2026-11-01', '238', '239', '{ad}', {cost}, 1, 10)"
)


def test_upgrade_keeps_spend_and_downgrade_folds_ads_into_their_ad_set(db_url: str):
    """Up: the old row stays with ad_id ''. Down: two ads of one ad set fold, cost summed."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0015")
    with engine.begin() as conn:
        conn.execute(text(SPEND.format(ad="", cost="2.50")))
    migrate.upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT ad_id, cost FROM spend_daily")).one()[0] == ""
        # Two ads of ad set 239 on one day: two rows now that the key has the ad.
        conn.execute(text("UPDATE spend_daily SET ad_id = '240'"))
        conn.execute(
            text(
                "INSERT INTO spend_daily (platform, day, campaign_id, ad_group_id, keyword_id, "
                "ad_id, cost, clicks, impressions) VALUES ('meta', '2026-11-01', '238', '239', "
                "'', '241', 4.00, 3, 30)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO click_resolutions (platform, resolved, checked_at, campaign_id, "
                "ad_group_id, keyword_id, ad_id) VALUES ('meta', true, '2026-11-01', '238', "
                "'239', '', '240')"
            )
        )
    command.downgrade(migrate.alembic_config(engine), "0015")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT cost, clicks, impressions FROM spend_daily")).all()
        left = conn.execute(text("SELECT count(*) FROM click_resolutions")).scalar_one()
    assert [(float(c), k, i) for c, k, i in rows] == [(6.5, 4, 40)]
    assert left == 0  # a URL-resolved row has no click to keep it
    engine.dispose()
