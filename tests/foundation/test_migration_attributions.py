"""Migration 0003 carries attribution rows over to one row per touch, and back (both databases)."""

from __future__ import annotations

from decimal import Decimal

from alembic import command
from sqlalchemy import text

from connector.storage import migrate
from connector.storage.db import make_engine

SEED = [
    "INSERT INTO deals (id, is_won, is_closed, first_seen_at, updated_at) "
    "VALUES ('D1', true, true, '2026-11-01', '2026-11-01')",
    "INSERT INTO visitors (id, first_seen_at, last_seen_at) "
    "VALUES ('v1', '2026-11-01', '2026-11-01')",
    "INSERT INTO touchpoints (id, visitor_id, occurred_at, received_at, url, channel, "
    "is_new_session) "
    "VALUES (1, 'v1', '2026-11-01', '2026-11-01', 'https://x/', 'Direct', true), "
    "(2, 'v1', '2026-11-02', '2026-11-02', 'https://x/', 'Direct', true)",
]
#: What the old sync wrote for a 100 USD deal over touches 1 and 2 (no zero rows).
OLD_ROWS = [
    ("first_click", 1, "1", "100"),
    ("last_click", 2, "1", "100"),
    ("linear", 1, "0.5", "50"),
    ("linear", 2, "0.5", "50"),
    ("time_decay", 1, "0.25", "25"),
    ("time_decay", 2, "0.75", "75"),
    ("position_based", 1, "0.5", "50"),
    ("position_based", 2, "0.5", "50"),
]


def test_old_rows_become_one_row_per_touch_and_come_back(db_url: str):
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        for statement in SEED:
            conn.execute(text(statement))
        for model, tp, weight, revenue in OLD_ROWS:
            conn.execute(
                text(
                    "INSERT INTO attributions (deal_id, model, touchpoint_id, weight, revenue, "
                    "currency) VALUES ('D1', :m, :tp, :w, :r, 'USD')"
                ),
                {"m": model, "tp": tp, "w": float(weight), "r": float(revenue)},  # exact in binary
            )

    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT touchpoint_id, currency, first_click_revenue, last_click_revenue, "
                "linear_weight, time_decay_revenue, position_based_weight "
                "FROM attributions WHERE deal_id = 'D1' ORDER BY touchpoint_id"
            )
        ).all()
    assert [(r[0], r[1], *(Decimal(str(v)) for v in r[2:])) for r in rows] == [
        (1, "USD", Decimal(100), Decimal(0), Decimal("0.5"), Decimal(25), Decimal("0.5")),
        (2, "USD", Decimal(0), Decimal(100), Decimal("0.5"), Decimal(75), Decimal("0.5")),
    ]

    command.downgrade(migrate.alembic_config(engine), "0002")
    with engine.connect() as conn:
        back = conn.execute(
            text("SELECT model, touchpoint_id, weight, revenue FROM attributions")
        ).all()
    engine.dispose()
    assert sorted((m, tp, Decimal(str(w)), Decimal(str(r))) for m, tp, w, r in back) == sorted(
        (m, tp, Decimal(w), Decimal(r)) for m, tp, w, r in OLD_ROWS
    )
