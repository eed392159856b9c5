"""What ``closedloop demo`` seeds into the Google Ads sandbox: its clicks and its spend."""

from __future__ import annotations

from typing import Any

from platforms.google_ads.sandbox.click_view import ClickSource

NAME = "google_ads"
#: The demo keeps Google's schedule (first status 30 minutes after an ingest), so its rows are
#: seen confirming; it then travels to when the checks are due (``connector.demo.run``).
CONFIG = {"status_check_minutes": 30}


def ad_group_id(campaign_id: str) -> str:
    """The demo's one ad group per campaign."""
    return f"{campaign_id}1"


def ad_group_name(campaign: str) -> str:
    """The name of that ad group."""
    return f"{campaign} ad group"


def keyword_id(keyword: str) -> str:
    """A stable criterion ID per keyword text."""
    return str(300000 + sum(map(ord, keyword)))


def click_source(click: Any) -> ClickSource:
    """Where a demo click came from, matching the demo's spend rows."""
    from connector.demo.generator import GOOGLE_CAMPAIGNS

    name = GOOGLE_CAMPAIGNS[click.campaign_id][0]
    return ClickSource(
        campaign_id=click.campaign_id,
        campaign=name,
        channel_type="SEARCH",
        ad_group_id=ad_group_id(click.campaign_id),
        ad_group=ad_group_name(name),
        keyword_id=keyword_id(click.keyword) if click.keyword else None,
        keyword=click.keyword or None,
        match_type="BROAD" if click.keyword else None,
    )


def seed(box: Any, world: Any) -> None:
    """Make the world's Google clicks known, and report its Google spend through GAQL.

    Each click carries the campaign, ad group and keyword the spend rows below use, so
    click_view resolves it to the same IDs as its spend.
    """
    for click in world.clicks:
        if click.platform == NAME:
            box.add_click(click.value, click.ts, kind=click.kind, source=click_source(click))
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
                ad_group_id=ad_group_id(row.campaign_id),
                ad_group=ad_group_name(row.campaign),
                keyword_id=keyword_id(row.group),
                keyword=row.group,
                cost=row.cost,
                clicks=row.clicks,
                impressions=row.impressions,
            )
