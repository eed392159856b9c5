"""One subpackage per outside system, and the registry that names them.

Adding a platform means one folder and one entry in :data:`PLATFORMS`: its settings model
(``platforms/<name>/settings.py``, the ``platforms.<name>`` config section), and whichever
roles it plays: a destination for conversions (which also declares its rules, see
``platforms.base.Destination``), a source of spend or sessions, a CRM, a browser-cookie rule,
a sandbox emulator (``platforms/<name>/sandbox/``). Entries are import strings so that no SDK
is imported until it is used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Platform:
    """What one outside system provides, as ``module:attribute`` import strings."""

    #: Its settings model: the ``platforms.<name>`` section of the config file.
    settings: str
    #: A ``platforms.base.Destination`` that receives conversions.
    destination: str | None = None
    #: A puller of spend, clicks or sessions (``platforms.reporting``).
    spend: str | None = None
    #: A ``platforms.crm.CrmSource`` that holds deals and contacts.
    crm: str | None = None
    #: Its change notifications (``platforms.crm.CrmWebhook``), at ``POST /webhooks/<name>``.
    webhook: str | None = None
    #: Its browser-cookie rule, checked and renewed on every page view (the signature of
    #: ``platforms.meta.cookies.clean_page_view``).
    browser_cookies: str | None = None
    #: Its local emulator (``platforms.sandbox_kit``), for the demo and end-to-end tests.
    sandbox: str | None = None
    #: Its live read-only checks for ``closedloop doctor`` (``platforms.doctor.PlatformDoctor``).
    doctor: str | None = None
    #: Going live (``platforms.auth.Auth``): its ``closedloop auth <x>`` command and the keys
    #: ``closedloop init`` writes for it.
    auth: str | None = None
    #: Its own CLI commands (a list of click commands), e.g. ``google-ads conversion-actions``.
    commands: str | None = None


#: Every outside system, in the order config sections, reports and the demo list them.
PLATFORMS: dict[str, Platform] = {
    "hubspot": Platform(
        settings="platforms.hubspot.settings:HubSpotSettings",
        crm="platforms.hubspot.source:HubSpotSource",
        webhook="platforms.hubspot.webhook:HubSpotWebhook",
        sandbox="platforms.hubspot.sandbox:HubSpotSandbox",
        auth="platforms.hubspot.auth:AUTH",
        doctor="platforms.hubspot.doctor:run",
    ),
    "google_ads": Platform(
        settings="platforms.google_ads.settings:GoogleAdsSettings",
        destination="platforms.google_ads.adapter:GoogleAdsDestination",
        spend="platforms.google_ads.spend:GoogleAdsSpend",
        sandbox="platforms.google_ads.sandbox:GoogleAdsSandbox",
        auth="platforms.google_ads.auth:AUTH",
        doctor="platforms.google_ads.doctor:run",
        commands="platforms.google_ads.cli:COMMANDS",
    ),
    "ga4": Platform(
        settings="platforms.ga4.settings:GA4Settings",
        destination="platforms.ga4.adapter:GA4Destination",
        spend="platforms.ga4.sessions:GA4Sessions",
        sandbox="platforms.ga4.sandbox:GA4Sandbox",
        auth="platforms.ga4.auth:AUTH",
        doctor="platforms.ga4.doctor:run",
    ),
    "meta": Platform(
        settings="platforms.meta.settings:MetaSettings",
        destination="platforms.meta.adapter:MetaDestination",
        spend="platforms.meta.spend:MetaSpend",
        browser_cookies="platforms.meta.cookies:clean_page_view",
        sandbox="platforms.meta.sandbox:MetaSandbox",
        auth="platforms.meta.auth:AUTH",
        commands="platforms.meta.commands:COMMANDS",
        doctor="platforms.meta.doctor:run",
    ),
    "microsoft_ads": Platform(
        settings="platforms.microsoft_ads.settings:MicrosoftAdsSettings",
        destination="platforms.microsoft_ads.adapter:MicrosoftAdsDestination",
        sandbox="platforms.microsoft_ads.sandbox:MicrosoftAdsSandbox",
        spend="platforms.microsoft_ads.spend:MicrosoftAdsSpend",
    ),
    "linkedin_ads": Platform(
        settings="platforms.linkedin_ads.settings:LinkedInAdsSettings",
        destination="platforms.linkedin_ads.adapter:LinkedInAdsDestination",
        sandbox="platforms.linkedin_ads.sandbox:LinkedInAdsSandbox",
        spend="platforms.linkedin_ads.spend:LinkedInSpend",
    ),
}


def _role(role: str) -> dict[str, str]:
    return {name: path for name, entry in PLATFORMS.items() if (path := getattr(entry, role))}


#: Views of :data:`PLATFORMS` by role: name -> "module:attribute".
DESTINATIONS: dict[str, str] = _role("destination")
SPEND_SOURCES: dict[str, str] = _role("spend")
CRM_SOURCES: dict[str, str] = _role("crm")
WEBHOOKS: dict[str, str] = _role("webhook")
BROWSER_COOKIES: dict[str, str] = _role("browser_cookies")
SANDBOXES: dict[str, str] = _role("sandbox")
SETTINGS: dict[str, str] = _role("settings")
AUTH: dict[str, str] = _role("auth")
DOCTORS: dict[str, str] = _role("doctor")
COMMANDS: dict[str, str] = _role("commands")


def load(path: str) -> Any:
    """Import ``module:attribute``."""
    module_name, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module_name), attribute)
