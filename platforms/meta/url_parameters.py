"""Which landing-URL parameters carry Meta's campaign, ad set and ad IDs.

Meta fills ``{{campaign.id}}``, ``{{adset.id}}`` and ``{{ad.id}}`` (and the ``.name`` forms)
in an ad's URL parameters when the ad is clicked (Marketing API, "Use URL Tags for Tracking").
Names are a snapshot taken when the ad was published, so a renamed campaign keeps its old name
in the URL; IDs never change, which is why the reports join Meta revenue to spend by ID.

The template closedloop recommends keeps GA4's meaning of each UTM: ``utm_id`` is GA4's
campaign ID, ``utm_term`` the ad set (Meta's targeting level, where a keyword would be) and
``utm_content`` the ad. The other names are the ones Meta's own examples and common tools use.
"""

from __future__ import annotations

#: Paste into the ad's "URL parameters" field (Ads Manager > Ad > Tracking).
RECOMMENDED = (
    "utm_source=facebook&utm_medium=paid_social&utm_campaign={{campaign.name}}"
    "&utm_id={{campaign.id}}&utm_term={{adset.id}}&utm_content={{ad.id}}"
)
#: Parameters that may hold one of the IDs; which ID each is, the spend rows tell.
ID_PARAMS = ("utm_id", "utm_term", "utm_content", "campaign_id", "adset_id", "ad_id")
