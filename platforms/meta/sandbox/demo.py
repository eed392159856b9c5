"""What ``closedloop demo`` seeds into the Meta sandbox: its ad insights."""

from __future__ import annotations

from typing import Any

NAME = "meta"


def seed(box: Any, world: Any) -> None:
    """Report the world's Meta spend as per-ad-set insights."""
    for row in world.spend:
        if row.platform == NAME:
            box.add_insight(
                row.day,
                row.campaign_id,
                row.campaign,
                row.cost,
                row.clicks,
                row.impressions,
                adset_id=f"{row.campaign_id}-1",
                adset_name=row.group,
            )
