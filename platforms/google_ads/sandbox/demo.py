"""What ``closedloop demo`` seeds into the Google Ads sandbox: its clicks and its spend."""

from __future__ import annotations

from typing import Any

NAME = "google_ads"


def seed(box: Any, world: Any) -> None:
    """Make the world's Google clicks known, and report its Google spend through GAQL."""
    for click in world.clicks:
        if click.platform == NAME:
            box.add_click(click.value, click.ts, kind=click.kind)
    ads_api = getattr(box, "ads_api", None)
    if ads_api is None:
        return
    for row in world.spend:
        if row.platform == NAME:
            ads_api.add_spend(
                row.day,
                customer_id=box.customer_id,
                campaign_id=row.campaign_id,
                campaign=row.campaign,
                ad_group_id=f"{row.campaign_id}1",
                ad_group=f"{row.campaign} ad group",
                keyword_id=str(300000 + sum(map(ord, row.group))),
                keyword=row.group,
                cost=row.cost,
                clicks=row.clicks,
                impressions=row.impressions,
            )
