"""Migration 0007 (browser context) keeps every visitor and page view, up and down."""

from __future__ import annotations

from alembic import command
from sqlalchemy import text

from connector.storage import migrate
from connector.storage.db import make_engine

SEED = [
    "INSERT INTO visitors (id, first_seen_at, last_seen_at, fbc) "
    "VALUES ('v1', '2026-11-01', '2026-11-01', 'fb.1.1762000000000.IwAR')",
    "INSERT INTO touchpoints (id, visitor_id, occurred_at, received_at, url, channel, "
    "is_new_session) VALUES (1, 'v1', '2026-11-01', '2026-11-01', 'https://x/', 'Direct', true)",
    "INSERT INTO click_ids (visitor_id, kind, value, first_seen_at, touchpoint_id) "
    "VALUES ('v1', 'fbclid', 'IwAR', '2026-11-01', 1)",
]


def _counts(engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in ("visitors", "touchpoints", "click_ids")
        )


def test_upgrade_and_downgrade_lose_no_page_view(db_url: str):
    """Adding and removing the IP columns never rebuilds visitors (which would cascade)."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0004")
    with engine.begin() as conn:
        for statement in SEED:
            conn.execute(text(statement))
    migrate.upgrade(engine)
    assert _counts(engine) == (1, 1, 1)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT fbc, client_ip FROM visitors")).one()
    assert tuple(row) == ("fb.1.1762000000000.IwAR", None)
    command.downgrade(migrate.alembic_config(engine), "0004")
    assert _counts(engine) == (1, 1, 1)
    engine.dispose()
