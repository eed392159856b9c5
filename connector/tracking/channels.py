"""Where a visit came from: source/medium/campaign from the URL, then GA4's channel group.

Order of evidence, as GA4 does it: UTM tags first; else an ad click ID (auto-tagging); else
the referrer (search engine, social network, webmail, other site); else direct. The channel
rules follow GA4's default channel group definitions, in GA4's order (first match wins).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from connector.tracking.schemas import CLICK_ID_KINDS, UTM_KEYS

DIRECT, NONE = "(direct)", "(none)"

#: Click ID -> the (source, medium) auto-tagging implies.
CLICK_SOURCES: dict[str, tuple[str, str]] = {
    "gclid": ("google", "cpc"),
    "gbraid": ("google", "cpc"),
    "wbraid": ("google", "cpc"),
    "msclkid": ("bing", "cpc"),
    "fbclid": ("facebook", "paid"),
    "ttclid": ("tiktok", "paid"),
    "li_fat_id": ("linkedin", "paid"),
}

#: Referrer host fragment -> source name, per kind of site.
SEARCH_ENGINES = {
    "google.": "google",
    "bing.com": "bing",
    "search.yahoo.": "yahoo",
    "duckduckgo.com": "duckduckgo",
    "baidu.com": "baidu",
    "yandex.": "yandex",
    "ecosia.org": "ecosia",
    "search.brave.com": "brave",
    "startpage.com": "startpage",
    "qwant.com": "qwant",
    "naver.com": "naver",
    "ask.com": "ask",
}
WEBMAIL = {
    "mail.google.com": "gmail",
    "outlook.live.com": "outlook",
    "outlook.office.com": "outlook",
    "outlook.office365.com": "outlook",
    "mail.yahoo.com": "yahoo mail",
    "mail.proton.me": "proton mail",
}
SOCIAL_HOSTS = {
    "facebook.com": "facebook",
    "fb.me": "facebook",
    "instagram.com": "instagram",
    "t.co": "twitter",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "linkedin.com": "linkedin",
    "lnkd.in": "linkedin",
    "reddit.com": "reddit",
    "pinterest.com": "pinterest",
    "tiktok.com": "tiktok",
    "threads.net": "threads",
    "quora.com": "quora",
    "snapchat.com": "snapchat",
    "bsky.app": "bluesky",
    "mastodon.social": "mastodon",
}
VIDEO_HOSTS = {"youtube.com": "youtube", "youtu.be": "youtube", "vimeo.com": "vimeo"}

# Source lists used by GA4's rules (abridged to the common names; case-insensitive).
SEARCH_SOURCES = {*SEARCH_ENGINES.values(), "google", "bing", "yahoo", "msn", "aol"}
SOCIAL_SOURCES = {*SOCIAL_HOSTS.values(), "fb", "ig", "meta", "whatsapp"}
VIDEO_SOURCES = {"youtube", "vimeo", "twitch", "dailymotion", "wistia"}
SHOPPING_SOURCES = {"google shopping", "shopping", "amazon", "ebay", "etsy", "shopify"}

PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
SHOP_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")
EMAIL = re.compile(r"^(email|e-mail|e_mail|e mail|newsletter)$")
DISPLAY_MEDIUMS = {"display", "banner", "expandable", "interstitial", "cpm"}
SOCIAL_MEDIUMS = {
    "social",
    "social-network",
    "social-media",
    "sm",
    "social network",
    "social media",
}


@dataclass(frozen=True)
class Source:
    """Where one page view came from."""

    source: str
    medium: str
    campaign: str | None = None
    term: str | None = None
    content: str | None = None
    channel: str = "Direct"
    explicit: bool = True  # False for direct/internal visits, which continue a session


def query_params(url: str) -> dict[str, str]:
    """The URL's query parameters (first value of each), keys lowercased."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=False):
        params.setdefault(key.lower(), value)
    return params


def click_ids_in(params: dict[str, str]) -> dict[str, str]:
    """The ad click IDs among the query parameters."""
    return {k: params[k][:512] for k in CLICK_ID_KINDS if params.get(k)}


def _host(url: str | None) -> str:
    if not url:
        return ""
    try:
        return (urlsplit(url).hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""


def _lookup(host: str, table: dict[str, str]) -> str | None:
    for fragment, name in table.items():
        if fragment.endswith("."):
            if host.startswith(fragment) or f".{fragment}" in f".{host}":
                return name
        elif host == fragment or host.endswith(f".{fragment}"):
            return name
    return None


def parse_source(
    url: str, referrer: str | None, utm: dict[str, str | None], click_ids: dict[str, str]
) -> Source:
    """Source/medium/campaign/term/content and channel of a page view."""
    params = query_params(url)
    tags = {k: (params.get(f"utm_{k}") or utm.get(k) or None) for k in UTM_KEYS}
    tags = {k: (v[:255] if v else None) for k, v in tags.items()}
    click_source = next((CLICK_SOURCES[k] for k in CLICK_ID_KINDS if k in click_ids), None)
    if tags["source"] or tags["medium"]:
        source = (tags["source"] or (click_source[0] if click_source else "(not set)")).lower()
        medium = (tags["medium"] or (click_source[1] if click_source else "(not set)")).lower()
        return _classified(source, medium, tags["campaign"], tags["term"], tags["content"])
    if click_source:
        return _classified(*click_source, tags["campaign"], tags["term"], tags["content"])
    return _from_referrer(url, referrer)


def _from_referrer(url: str, referrer: str | None) -> Source:
    host, page_host = _host(referrer), _host(url)
    if not host or host == page_host:
        return Source(DIRECT, NONE, channel="Direct", explicit=False)
    if name := _lookup(host, WEBMAIL):
        return _classified(name, "email")
    if name := _lookup(host, SEARCH_ENGINES):
        return _classified(name, "organic")
    if name := _lookup(host, SOCIAL_HOSTS):
        return _classified(name, "social")
    if name := _lookup(host, VIDEO_HOSTS):
        return _classified(name, "referral")
    return _classified(host[:255], "referral")


def _classified(
    source: str,
    medium: str,
    campaign: str | None = None,
    term: str | None = None,
    content: str | None = None,
) -> Source:
    channel = channel_group(source, medium, campaign)
    return Source(source, medium, campaign, term, content, channel)


def channel_group(source: str, medium: str, campaign: str | None = None) -> str:
    """GA4's default channel group for a source/medium/campaign (first matching rule)."""
    src, med, camp = source.lower(), medium.lower(), (campaign or "").lower()
    paid = bool(PAID_MEDIUM.match(med))
    if src == DIRECT and med in (NONE, "(not set)"):
        return "Direct"
    if "cross-network" in camp:
        return "Cross-network"
    shopping = src in SHOPPING_SOURCES or bool(SHOP_CAMPAIGN.match(camp))
    rules: list[tuple[bool, str]] = [
        (shopping and paid, "Paid Shopping"),
        (src in SEARCH_SOURCES and paid, "Paid Search"),
        (src in SOCIAL_SOURCES and paid, "Paid Social"),
        (src in VIDEO_SOURCES and paid, "Paid Video"),
        (med in DISPLAY_MEDIUMS, "Display"),
        (paid, "Paid Other"),
        (shopping, "Organic Shopping"),
        (src in SOCIAL_SOURCES or med in SOCIAL_MEDIUMS, "Organic Social"),
        (src in VIDEO_SOURCES or "video" in med, "Organic Video"),
        (src in SEARCH_SOURCES or med == "organic", "Organic Search"),
        (med in ("referral", "app", "link"), "Referral"),
        (bool(EMAIL.match(src) or EMAIL.match(med)), "Email"),
        (med == "affiliate", "Affiliates"),
        (med == "audio", "Audio"),
        (src == "sms" or med == "sms", "SMS"),
        (
            med.endswith("push") or "mobile" in med or "notification" in med or src == "firebase",
            "Mobile Push Notifications",
        ),
    ]
    return next((name for matched, name in rules if matched), "Unassigned")
