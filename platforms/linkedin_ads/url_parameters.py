"""Which landing-URL parameters carry LinkedIn's campaign (and campaign group, creative) IDs.

LinkedIn's dynamic UTM tracking fills these values when an ad is clicked: in Campaign Manager
they are picked from the "Dynamic" list and written ``{{CAMPAIGN_ID}}``; the Marketing API
names the same values ``CAMPAIGN_ID``, ``CAMPAIGN_GROUP_ID``, ``CREATIVE_ID``, ``ACCOUNT_ID``
(and the ``_NAME`` forms) in a campaign's tracking parameters (learn.microsoft.com, LinkedIn
Marketing "Dynamic UTM Tracking"). They are set on the campaign (or, from 202608, the ad
account) and apply to every creative under it.

closedloop's LinkedIn spend is per campaign (``adAnalytics`` pivot CAMPAIGN), so the campaign ID
is what joins revenue to spend; a campaign group or creative ID in another parameter matches no
spend row and resolves nothing (``connector/ad_ids.py``). The template keeps GA4's meaning of
each UTM: ``utm_id`` the campaign ID, ``utm_content`` the creative.
"""

from __future__ import annotations

#: Paste into Campaign Manager > Campaign > "Tracking parameters" (UTM), dynamic values.
RECOMMENDED = (
    "utm_source=linkedin&utm_medium=paid_social&utm_campaign={{CAMPAIGN_NAME}}"
    "&utm_id={{CAMPAIGN_ID}}&utm_term={{CAMPAIGN_GROUP_ID}}&utm_content={{CREATIVE_ID}}"
)
#: Parameters that may hold one of the IDs; which ID each is, the spend rows tell.
ID_PARAMS = ("utm_id", "utm_term", "utm_content", "li_campaign_id", "campaign_id")
