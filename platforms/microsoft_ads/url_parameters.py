"""Which landing-URL parameters carry Microsoft Advertising's campaign, ad group and keyword IDs.

Microsoft fills ``{CampaignId}``, ``{AdGroupId}`` and ``{OrderItemId}`` (the keyword's ID; there
is no ``{KeywordId}`` parameter) in a final URL suffix or tracking template when the ad is
clicked (help.ads.microsoft.com "What tracking or URL parameters can I use?"). ``{Campaign}``
and ``{AdGroup}`` give today's names, but the IDs are what the Reporting service's rows carry
(``CampaignId``, ``AdGroupId``, ``KeywordId``), so revenue joins spend by ID even when a UTM
campaign name is missing or stale. ``{TargetId}`` ("kwd-123") is not numeric and not used.

The template keeps GA4's meaning of each UTM: ``utm_id`` the campaign ID, ``utm_term`` the
keyword ID (the keyword level, as in GA4), ``utm_content`` the ad group ID. Auto-tagging adds
``msclkid`` by itself; the click resolution by msclkid is separate.
"""

from __future__ import annotations

#: Paste into Account (or Campaign) settings > "Final URL suffix".
RECOMMENDED = (
    "utm_source=bing&utm_medium=cpc&utm_campaign={Campaign}"
    "&utm_id={CampaignId}&utm_content={AdGroupId}&utm_term={OrderItemId}"
)
#: Parameters that may hold one of the IDs; which ID each is, the spend rows tell.
ID_PARAMS = ("utm_id", "utm_content", "utm_term", "campaignid", "adgroupid", "keywordid")
