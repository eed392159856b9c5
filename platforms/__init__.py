"""One subpackage per outside system, and the registry that names them.

Adding a platform means one folder (``adapter.py``, ``client.py``, ``sandbox.py``) and one line
per registry here. Entries are import strings so that no SDK is imported until it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Ad platforms that receive conversions: name -> "module:Class" (a ``Destination``).
DESTINATIONS: dict[str, str] = {
    "google_ads": "platforms.google_ads.adapter:GoogleAdsDestination",
    "ga4": "platforms.ga4.adapter:GA4Destination",
    "meta": "platforms.meta.adapter:MetaDestination",
}

#: Platforms that report spend, clicks or sessions: name -> "module:Class".
SPEND_SOURCES: dict[str, str] = {
    "google_ads": "platforms.google_ads.spend:GoogleAdsSpend",
    "meta": "platforms.meta.spend:MetaSpend",
    "ga4": "platforms.ga4.sessions:GA4Sessions",
}

#: Platforms whose browser cookies tracking checks and renews on every page view:
#: name -> "module:function" with the signature of ``platforms.meta.cookies.clean_page_view``.
BROWSER_COOKIES: dict[str, str] = {
    "meta": "platforms.meta.cookies:clean_page_view",
}

#: The CRM that holds deals and contacts.
CRM_SOURCES: dict[str, str] = {
    "hubspot": "platforms.hubspot.source:HubSpotSource",
}

#: Local emulators, for the demo and the end-to-end tests.
SANDBOXES: dict[str, str] = {
    "hubspot": "platforms.hubspot.sandbox:HubSpotSandbox",
    "google_ads": "platforms.google_ads.sandbox:GoogleAdsSandbox",
    "ga4": "platforms.ga4.sandbox:GA4Sandbox",
    "meta": "platforms.meta.sandbox:MetaSandbox",
}


def load(path: str) -> Any:
    """Import ``module:attribute``."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
