"""Migration 0014 (click resolutions) keeps every page view and click, up and down."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from connector.storage import migrate
from connector.storage.db import make_engine

SEED = [
    "INSERT INTO visitors (id, first_seen_at, last_seen_at) "
    "VALUES ('v1', '2026-11-01', '2026-11-01')",
    "INSERT INTO touchpoints (id, visitor_id, occurred_at, received_at, url, channel, "
    "is_new_session) VALUES (1, 'v1', '2026-11-01', '2026-11-01', 'https://x/?gclid=Cj0', "
    "'Paid Search', true)",
    "INSERT INTO click_ids (visitor_id, kind, value, first_seen_at, touchpoint_id) "
    "VALUES ('v1', 'gclid', 'Cj0', '2026-11-01', 1)",
]


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("touchpoints", "click_ids")
        )


def test_upgrade_and_downgrade_lose_no_page_view_or_click(db_url: str):
    """The new column is added and dropped in place: touches (and their clicks) all stay."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0013")
    with engine.begin() as conn:
        for statement in SEED:
            conn.execute(text(statement))
    migrate.upgrade(engine)
    assert _counts(engine) == (1, 1)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT click_resolution_id FROM touchpoints")).one() == (None,)
        assert conn.execute(text("SELECT count(*) FROM click_resolutions")).scalar_one() == 0
    command.downgrade(migrate.alembic_config(engine), "0013")
    assert _counts(engine) == (1, 1)
    engine.dispose()
