"""Which Google scope GA4's sessions report needs, and what ``closedloop init`` asks for GA4."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from platforms.auth import Ask
from platforms.ga4.client import DATA_API_SCOPES
from platforms.google_oauth import CREDENTIALS_ASK, GoogleAuth, command

ANALYTICS_READONLY_SCOPE = DATA_API_SCOPES[0]


def scopes(section: Mapping[str, Any]) -> dict[str, str]:
    """Feature -> scope: the Data API (sessions) needs ``analytics.readonly``.

    The Measurement Protocol takes the stream's ``api_secret``, no OAuth, so GA4 needs a Google
    sign-in only when ``property_id`` asks for the sessions report.
    """
    if not section.get("enabled") or not section.get("property_id"):
        return {}
    return {"sessions (Data API)": ANALYTICS_READONLY_SCOPE}


AUTH = GoogleAuth(
    command=command,
    scopes=scopes,
    asks=(
        Ask(
            "measurement_id",
            "your web data stream's ID (Admin > Data streams)",
            question="GA4 measurement ID (G-...)",
        ),
        Ask(
            "api_secret",
            "Admin > Data streams > your stream > Measurement Protocol API secrets",
            secret=True,
            env="GA4_API_SECRET",
        ),
        Ask(
            "property_id",
            "for the Data API sessions report (Admin > Property details); empty: no sessions",
            question="GA4 property ID (digits; empty to skip the sessions report)",
            default="",
        ),
        replace(CREDENTIALS_ASK, only_if="property_id"),
    ),
)
