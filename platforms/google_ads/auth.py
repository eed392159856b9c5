"""Which Google scopes each Google Ads feature needs, and what ``closedloop init`` asks for it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from platforms.auth import Ask
from platforms.google_ads.client import DATAMANAGER_SCOPE
from platforms.google_oauth import CREDENTIALS_ASK, GoogleAuth, command

#: As in ``platforms.google_ads.ads_client`` (not imported: it loads the whole google-ads SDK).
ADWORDS_SCOPE = "https://www.googleapis.com/auth/adwords"


def scopes(section: Mapping[str, Any]) -> dict[str, str]:
    """Feature -> scope for the section as written (``api``, ``developer_token``).

    Conversions go through the Data Manager API (its own scope) unless ``api: google_ads``;
    spend, adjustments and the legacy upload are Google Ads API calls (``adwords``), made only
    when a developer token is set.
    """
    if not section.get("enabled"):
        return {}
    needed = {}
    if section.get("api", "data_manager") == "google_ads":
        needed["conversions (Google Ads API)"] = ADWORDS_SCOPE
    else:
        needed["conversions (Data Manager API)"] = DATAMANAGER_SCOPE
    if section.get("developer_token"):
        needed["spend and adjustments (Google Ads API)"] = ADWORDS_SCOPE
    return needed


AUTH = GoogleAuth(
    command=command,
    scopes=scopes,
    asks=(
        Ask(
            "customer_id",
            "the Google Ads account (10 digits, top right in Google Ads)",
            question="Google Ads customer ID (123-456-7890)",
        ),
        Ask(
            "conversion_action_id",
            "from `closedloop google-ads conversion-actions`",
            question="Google Ads conversion action ID (empty: look it up later)",
            default="",
        ),
        Ask(
            "developer_token",
            "Google Ads API only: spend and adjustments (API Center in a manager account)",
            secret=True,
            env="GOOGLE_ADS_DEVELOPER_TOKEN",
            default="",
        ),
        CREDENTIALS_ASK,
    ),
)
