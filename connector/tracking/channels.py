"""Where a visit came from: source/medium/campaign as GA4 derives them, then GA4's channel group.

Marketers put closedloop's reports next to GA4's, so both must say the same thing. Source and
medium follow GA4's order of evidence:

1. Google Ads auto-tagging: ``gclid``, ``gbraid`` or ``wbraid`` mean ``google / cpc`` and win
   over UTM tags, as in GA4 (campaign, term and content still come from the tags).
2. UTM tags: ``utm_source`` / ``utm_medium`` (a missing one is ``(not set)``).
3. closedloop's one addition to GA4: ``msclkid`` (Microsoft Ads) and ``ttclid`` (TikTok Ads)
   are only ever added to ad clicks, so an untagged visit carrying one is ``bing / cpc`` or
   ``tiktok / cpc``. GA4 ignores both (it would report the referrer, or Direct); see
   :data:`AD_ONLY_CLICKS`. ``fbclid`` is not one of them: Meta appends it to organic links
   too, and GA4 does not read it.
4. The referrer: a search engine is ``<engine> / organic``; another page of the same site is
   direct; any other site is ``<host> / referral`` (host without ``www.``), the form GA4
   reports, whose channel then comes from GA4's source categories (``l.facebook.com /
   referral`` is Organic Social, ``mail.google.com / referral`` is Referral).
5. Nothing: ``(direct) / (none)``.

The channel is GA4's default channel group (support.google.com/analytics/answer/9756891):
its rules in its order, first match wins, case-insensitive, with its source categories loaded
once from ``ga4_source_categories.csv`` (Google's list, kept as data).
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import parse_qsl, urlsplit

from connector.tracking.schemas import CLICK_ID_KINDS, UTM_KEYS

DIRECT, NONE, NOT_SET = "(direct)", "(none)", "(not set)"

#: Google Ads auto-tagging: GA4 reads these as google / cpc, over any UTM tags.
AUTO_TAGGING = ("gclid", "gbraid", "wbraid")
GOOGLE_CPC = ("google", "cpc")
#: Where closedloop knows more than GA4: click IDs the ad platforms add to paid clicks only.
#: Used only for visits without UTM tags; GA4 itself would show the referrer or Direct.
AD_ONLY_CLICKS: dict[str, tuple[str, str]] = {
    "msclkid": ("bing", "cpc"),
    "ttclid": ("tiktok", "cpc"),
}

#: Referrer host -> the search engine's source name (each is a search source in GA4's list).
#: Hosts not here are ``<host> / referral``; GA4's categories still make listed ones (such as
#: ``search.aol.com`` or ``m.baidu.com``) Organic Search.
SEARCH_ENGINES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), name)
    for pattern, name in (
        (r"google(\.[a-z]{2,3}){1,2}", "google"),
        (r"([a-z]+\.)?bing\.com", "bing"),
        (r"(([a-z]+\.)?search\.)?yahoo\.(com|co\.jp)", "yahoo"),
        (r"duckduckgo\.com", "duckduckgo"),
        (r"(m\.)?baidu\.com", "baidu"),
        (r"yandex(\.[a-z]{2,3}){1,2}", "yandex"),
        (r"(m\.)?search\.naver\.com", "naver"),
        (r"search\.daum\.net", "daum"),
        (r"search\.seznam\.cz", "seznam"),
        (r"(m\.)?sogou\.com", "sogou"),
        (r"ask\.com", "ask"),
        (r"search\.aol\.com", "aol"),
    )
)

# GA4's rule parts (answer/9756891), written as Google publishes them.
PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
SHOPPING_CAMPAIGN = re.compile(r"^(.*(([^a-df-z]|^)shop|shopping).*)$")
VIDEO_MEDIUM = re.compile(r"^(.*video.*)$")
EMAIL = re.compile(r"^(email|e-mail|e_mail|e mail)$")
DISPLAY_MEDIUMS = frozenset({"display", "banner", "expandable", "interstitial", "cpm"})
SOCIAL_MEDIUMS = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
REFERRAL_MEDIUMS = frozenset({"referral", "app", "link"})

SEARCH, SOCIAL, SHOPPING, VIDEO = "search", "social", "shopping", "video"
_CATEGORY_TOKENS = {
    "SOURCE_CATEGORY_SEARCH": SEARCH,
    "SOURCE_CATEGORY_SOCIAL": SOCIAL,
    "SOURCE_CATEGORY_SHOPPING": SHOPPING,
    "SOURCE_CATEGORY_VIDEO": VIDEO,
}

#: GA4's channel names, in GA4's rule order (``Unassigned`` when none matches).
CHANNELS = (
    "Direct",
    "Cross-network",
    "Paid Shopping",
    "Paid Search",
    "Paid Social",
    "Paid Video",
    "Display",
    "Paid Other",
    "Organic Shopping",
    "Organic Social",
    "Organic Video",
    "Organic Search",
    "Referral",
    "Email",
    "Affiliates",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
)
UNASSIGNED = "Unassigned"


@functools.cache
def source_categories() -> dict[str, str]:
    """GA4's source list (lowercased source -> search/social/shopping/video), read once."""
    text = resources.files("connector.tracking").joinpath("ga4_source_categories.csv")
    lines = [line for line in text.read_text("utf-8").splitlines() if not line.startswith("#")]
    return {
        row["source"].strip().lower(): _CATEGORY_TOKENS[row["category"].strip()]
        for row in csv.DictReader(lines)
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


def parse_source(
    url: str, referrer: str | None, utm: dict[str, str | None], click_ids: dict[str, str]
) -> Source:
    """Source/medium/campaign/term/content and channel of a page view (see the module doc)."""
    params = query_params(url)
    tags = {k: (params.get(f"utm_{k}") or utm.get(k) or None) for k in UTM_KEYS}
    tags = {k: (v[:255] if v else None) for k, v in tags.items()}
    extra = (tags["campaign"], tags["term"], tags["content"])
    if any(click_ids.get(kind) for kind in AUTO_TAGGING):
        return _classified(*GOOGLE_CPC, *extra)
    if tags["source"] or tags["medium"]:
        source = (tags["source"] or NOT_SET).lower()
        medium = (tags["medium"] or NOT_SET).lower()
        return _classified(source, medium, *extra)
    ad_click = next((AD_ONLY_CLICKS[k] for k in AD_ONLY_CLICKS if click_ids.get(k)), None)
    if ad_click:
        return _classified(*ad_click, *extra)
    return _from_referrer(url, referrer)


def _from_referrer(url: str, referrer: str | None) -> Source:
    host, page_host = _host(referrer), _host(url)
    if not host or host == page_host:
        return Source(DIRECT, NONE, channel="Direct", explicit=False)
    engine = next((name for pattern, name in SEARCH_ENGINES if pattern.fullmatch(host)), None)
    if engine:
        return _classified(engine, "organic")
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
    src, med, camp = source.strip().lower(), medium.strip().lower(), (campaign or "").lower()
    category = source_categories().get(src)
    paid = bool(PAID_MEDIUM.fullmatch(med))
    shopping = category == SHOPPING or bool(SHOPPING_CAMPAIGN.fullmatch(camp))
    rules: tuple[tuple[bool, str], ...] = (
        (src == DIRECT and med in (NOT_SET, NONE), "Direct"),
        ("cross-network" in camp, "Cross-network"),
        (shopping and paid, "Paid Shopping"),
        (category == SEARCH and paid, "Paid Search"),
        (category == SOCIAL and paid, "Paid Social"),
        (category == VIDEO and paid, "Paid Video"),
        (med in DISPLAY_MEDIUMS, "Display"),
        (paid, "Paid Other"),
        (shopping, "Organic Shopping"),
        (category == SOCIAL or med in SOCIAL_MEDIUMS, "Organic Social"),
        (category == VIDEO or bool(VIDEO_MEDIUM.fullmatch(med)), "Organic Video"),
        (category == SEARCH or med == "organic", "Organic Search"),
        (med in REFERRAL_MEDIUMS, "Referral"),
        (bool(EMAIL.fullmatch(src) or EMAIL.fullmatch(med)), "Email"),
        (med == "affiliate", "Affiliates"),
        (med == "audio", "Audio"),
        (src == "sms" or med == "sms", "SMS"),
        (
            med.endswith("push") or "mobile" in med or "notification" in med or src == "firebase",
            "Mobile Push Notifications",
        ),
    )
    return next((name for matched, name in rules if matched), UNASSIGNED)
