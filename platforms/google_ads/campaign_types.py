"""Google Ads campaign types (``campaign.advertising_channel_type``) as GA4 channels.

GA4's default channel group files auto-tagged Google Ads traffic by the campaign's type, not
by source/medium: a Display campaign's clicks are "Display", a Video campaign's "Paid Video",
Shopping "Paid Shopping", and campaigns that serve across networks "Cross-network" (GA4's
Cross-network rule: Google Ads campaign type Performance Max, App, Smart, Demand Gen or Local;
support.google.com/analytics/answer/9756891). Spend and the revenue of resolved clicks both use
this table, so they meet on the same channel row. Types GA4 does not single out stay "Paid
Search", what a Google Ads click is without knowing its campaign (``GoogleAdsSpend.traffic``).
"""

from __future__ import annotations

DEFAULT_CHANNEL = "Paid Search"

CHANNELS: dict[str, str] = {
    "SEARCH": "Paid Search",
    "SHOPPING": "Paid Shopping",
    "DISPLAY": "Display",
    "VIDEO": "Paid Video",
    "PERFORMANCE_MAX": "Cross-network",
    "DEMAND_GEN": "Cross-network",
    "MULTI_CHANNEL": "Cross-network",  # App campaigns
    "SMART": "Cross-network",
    "LOCAL": "Cross-network",
}


def channel_of(campaign_type: str | None) -> str:
    """The GA4 channel for an ``AdvertisingChannelType`` name (``"DISPLAY"``)."""
    return CHANNELS.get(campaign_type or "", DEFAULT_CHANNEL)


def type_name(value: object) -> str | None:
    """The enum member's name from a proto-plus row value; None when unset/unspecified."""
    name = getattr(value, "name", None) or (str(value) if value else None)
    return None if name in (None, "UNSPECIFIED", "UNKNOWN") else name
