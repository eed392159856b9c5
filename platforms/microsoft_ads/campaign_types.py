"""Microsoft Advertising campaign types (the reports' ``CampaignType`` column) as GA4 channels.

A Microsoft click is "Paid Search" to GA4 by its source/medium (``bing`` / ``cpc``), which is
right for Search and Dynamic Search Ads campaigns. Audience campaigns serve on the Microsoft
Audience Network (display and native placements), so their spend is "Display"; Shopping is
"Paid Shopping"; Performance Max serves across networks, "Cross-network" (GA4's own labels).
The report file spells a type for people ("Search & content"), the API's filter enum
(``CampaignTypeReportFilter``) without spaces ("SearchAndContent"); both are read by comparing
letters only, so either spelling finds its row. Types not listed stay "Paid Search".
"""

from __future__ import annotations

import re

DEFAULT_CHANNEL = "Paid Search"

#: Keyed by the type's letters, lower case ("Search & content" -> "searchcontent").
CHANNELS: dict[str, str] = {
    "searchandcontent": "Paid Search",
    "searchcontent": "Paid Search",
    "search": "Paid Search",
    "dynamicsearch": "Paid Search",
    "dynamicsearchads": "Paid Search",
    "shopping": "Paid Shopping",
    "audience": "Display",
    "performancemax": "Cross-network",
    "smart": "Cross-network",
}


def channel_of(campaign_type: str | None) -> str:
    """The GA4 channel for a ``CampaignType`` value as the report file or the API spells it."""
    return CHANNELS.get(re.sub(r"[^a-z]", "", (campaign_type or "").lower()), DEFAULT_CHANNEL)
