"""What ``closedloop demo`` seeds into the Microsoft Advertising sandbox: clicks and spend.

The demo world's Microsoft clicks come from its Search campaign (``MICROSOFT_CAMPAIGNS``);
its keyword-level spend (keywords named unlike Google's, so the keyword report's Google rows
hold Google's spend alone), and a keyword-less Audience campaign's, are drawn here for every
day the world has spend, from a generator seeded by the day and keyword: the world (and every
other platform's figures) stays exactly what its seed makes it, and the same day always costs
the same.
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

NAME = "microsoft_ads"
#: The demo account has enhanced conversions on, so deals without an msclkid still reach
#: Microsoft by the buyer's hashed email.
CONFIG = {"enhanced_conversions": True}
#: The Search campaign's keywords in Microsoft (the demo's clicks carry no keyword).
KEYWORDS = ("acme revenue analytics", "crm closed loop attribution")
#: A keyword-less Audience campaign: its spend is Display, beside the Search keywords.
AUDIENCE_CAMPAIGN = ("410000102", "Audience - lookalike visitors")


def seed(box: Any, world: Any) -> None:
    """Make the world's msclkid clicks known to Microsoft, and report its daily spend."""
    from connector.demo.generator import MICROSOFT_CAMPAIGNS

    for click in world.clicks:
        if click.platform == NAME and click.kind == "msclkid":
            box.know_click(click.kind, click.value, click.ts)
    box.reporting.pending_polls = 0  # the demo should not wait on report polls
    for day in sorted({row.day for row in world.spend}):
        for campaign_id, (campaign, _) in sorted(MICROSOFT_CAMPAIGNS.items()):
            for index, keyword in enumerate(KEYWORDS, start=1):
                cost, clicks, impressions = _draw(f"{day}:{campaign_id}:{keyword}")
                box.add_delivery(
                    day,
                    campaign_id,
                    campaign,
                    cost,
                    clicks,
                    impressions,
                    ad_group_id=f"{campaign_id}1",
                    ad_group=f"{campaign} - exact",
                    keyword_id=f"{campaign_id}1{index:02d}",
                    keyword=keyword,
                )
        campaign_id, campaign = AUDIENCE_CAMPAIGN
        cost, clicks, impressions = _draw(f"{day}:{campaign_id}")
        box.add_delivery(
            day, campaign_id, campaign, cost, clicks, impressions, campaign_type="Audience"
        )


def _draw(key: str) -> tuple[str, int, int]:
    rng = random.Random(key)
    clicks = rng.randint(3, 30)
    cost = Decimal(rng.randrange(1000, 12000)) / 100
    return str(cost), clicks, clicks * rng.randint(20, 80)
