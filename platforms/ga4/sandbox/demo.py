"""What ``closedloop demo`` seeds into the GA4 sandbox: sessions for the Data API."""

from __future__ import annotations

from typing import Any


def seed(box: Any, world: Any) -> None:
    """Half of the world's Google Ads clicks as engaged google / cpc sessions."""
    for row in world.spend:
        if row.platform == "google_ads":
            box.add_sessions(
                row.day, "google", "cpc", row.campaign, row.clicks, row.clicks // 2, 0.41
            )
