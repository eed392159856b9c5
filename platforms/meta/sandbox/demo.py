"""What ``closedloop demo`` seeds into the Meta sandbox: its ad insights."""

from __future__ import annotations

from typing import Any

NAME = "meta"


def seed(box: Any, world: Any) -> None:
    """Report the world's Meta spend as per-ad-set insights."""
    from connector.demo.generator import meta_ids

    for row in world.spend:
        if row.platform == NAME:
            adset_id, ad_id = meta_ids(row.campaign_id)
            box.add_insight(
                row.day,
                row.campaign_id,
                row.campaign,
                row.cost,
                row.clicks,
                row.impressions,
                adset_id=adset_id,
                adset_name=row.group,
                ad_id=ad_id,
            )
