"""Migration 0012 re-derives touches stored under the old channel rules (both databases).

The seeded rows are what the old rules stored; the expected values are GA4's for the same
visits (support.google.com/analytics/answer/9756891 and its source list), written by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import text

from connector.storage import migrate
from connector.storage.db import make_engine
from connector.storage.models import UTCDateTime

T0 = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
_touchpoints = sa.table(
    "touchpoints",
    *(sa.column(name) for name in ("id", "visitor_id", "url", "referrer", "source", "medium")),
    *(sa.column(name) for name in ("campaign", "channel", "is_new_session")),
    sa.column("occurred_at", UTCDateTime()),
    sa.column("received_at", UTCDateTime()),
    sa.column("click_ids", sa.JSON()),
)
#: (id, visitor, minutes after T0, url, referrer, click IDs, old source, medium, channel, new).
OLD_TOUCHES = [
    (1, "v1", 0, "https://x.example/?fbclid=F1", "https://l.facebook.com/", {"fbclid": "F1"},
     "facebook", "paid", "Paid Social", True),
    (2, "v1", 5, "https://x.example/pricing", "https://x.example/", None,
     "facebook", "paid", "Paid Social", False),
    (3, "v2", 0, "https://x.example/?utm_source=newsletter&utm_medium=email&gclid=G1", None,
     {"gclid": "G1"}, "newsletter", "email", "Email", True),
    (4, "v3", 0, "https://x.example/", "https://mail.google.com/mail/u/0", None,
     "gmail", "email", "Email", True),
    (5, "v4", 0, "https://x.example/", None, None, "(direct)", "(none)", "Direct", True),
]  # fmt: skip
#: GA4's view of the same visits: (source, medium, channel, new session).
EXPECTED = {
    1: ("l.facebook.com", "referral", "Organic Social", True),
    2: ("l.facebook.com", "referral", "Organic Social", False),  # same session, internal page
    3: ("google", "cpc", "Paid Search", True),  # auto-tagging wins over the UTM tags
    4: ("mail.google.com", "referral", "Referral", True),  # webmail is a referral
    5: ("(direct)", "(none)", "Direct", True),
}
ZERO = ", ".join(
    f"{m}_weight, {m}_revenue"
    for m in ("first_click", "last_click", "linear", "time_decay", "position_based")
)


def _seed(conn: sa.Connection) -> None:
    for vid in ("v1", "v2", "v3", "v4"):
        conn.execute(
            text(
                "INSERT INTO visitors (id, first_seen_at, last_seen_at) "
                "VALUES (:id, '2026-11-01', '2026-11-01')"
            ),
            {"id": vid},
        )
    for tid, vid, minutes, url, ref, clicks, src, med, channel, new in OLD_TOUCHES:
        at = T0 + timedelta(minutes=minutes)
        conn.execute(
            _touchpoints.insert().values(
                id=tid, visitor_id=vid, occurred_at=at, received_at=at, url=url, referrer=ref,
                click_ids=clicks, source=src, medium=med, channel=channel, is_new_session=new,
            )
        )  # fmt: skip
    conn.execute(
        text(
            "INSERT INTO deals (id, is_won, is_closed, first_seen_at, updated_at, "
            "first_touch_channel, first_touch_source, last_touch_channel, last_touch_source) "
            "VALUES ('D1', true, true, '2026-11-02', '2026-11-02', 'Paid Social', 'facebook', "
            "'Email', 'gmail')"
        )
    )
    for tid, first, last in ((1, 1, 0), (4, 0, 1)):
        conn.execute(
            text(
                f"INSERT INTO attributions (deal_id, touchpoint_id, currency, {ZERO}) VALUES "
                "('D1', :tid, 'USD', :f, :f, :l, :l, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5)"
            ),
            {"tid": tid, "f": first, "l": last},
        )


def test_old_touches_and_deal_summaries_take_ga4s_channels(db_url: str):
    """Upgrading a 0004 database re-derives every touch and the deal's first/last touch."""
    engine = make_engine(db_url)
    migrate.upgrade(engine, "0004")
    with engine.begin() as conn:
        _seed(conn)
    migrate.upgrade(engine)
    with engine.connect() as conn:
        touches = conn.execute(
            text("SELECT id, source, medium, channel, is_new_session FROM touchpoints ORDER BY id")
        ).all()
        deal = conn.execute(
            text(
                "SELECT first_touch_channel, first_touch_source, last_touch_channel, "
                "last_touch_source FROM deals WHERE id = 'D1'"
            )
        ).one()
        kept = conn.execute(text("SELECT COUNT(*) FROM attributions")).scalar_one()
    engine.dispose()
    assert {t[0]: (t[1], t[2], t[3], bool(t[4])) for t in touches} == EXPECTED
    assert tuple(deal) == ("Organic Social", "l.facebook.com", "Referral", "mail.google.com")
    assert kept == 2  # nothing lost
