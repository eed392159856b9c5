"""Source/medium parsing and GA4's default channel group, pinned to GA4's published rules.

Expected values are written from GA4's table (support.google.com/analytics/answer/9756891)
and Google's list of source categories it links, never computed by our code. Each case names
the rule it exercises; "list" means the source is (or is not) in Google's category list.
"""

from __future__ import annotations

import pytest

from connector.tracking.channels import (
    CHANNELS,
    SEARCH_ENGINES,
    channel_group,
    click_ids_in,
    parse_source,
    query_params,
    source_categories,
)
from platforms import SPEND_SOURCES, load

PAGE = "https://shop.example/p"

# (source, medium, campaign) -> GA4 channel, with the rule that decides it.
GA4_TABLE = [
    # Direct: source exactly "(direct)" AND medium one of "(not set)", "(none)".
    ("direct-none", "(direct)", "(none)", None, "Direct"),
    ("direct-not-set", "(direct)", "(not set)", None, "Direct"),
    ("direct-needs-both", "(direct)", "referral", None, "Referral"),
    # Cross-network: campaign name contains "cross-network" (before every paid rule).
    ("cross-network", "google", "cpc", "pmax cross-network q4", "Cross-network"),
    ("cross-network-any-medium", "newsletter", "email", "Cross-Network", "Cross-network"),
    # Paid Shopping: (shopping source OR campaign ^(.*(([^a-df-z]|^)shop|shopping).*)$) AND paid.
    ("paid-shopping-source", "amazon", "cpc", None, "Paid Shopping"),
    ("paid-shopping-domain", "ebay.de", "ppc", None, "Paid Shopping"),
    ("paid-shopping-google-shopping", "Google Shopping", "cpc", None, "Paid Shopping"),
    ("paid-shopping-igshopping", "IGShopping", "paid", None, "Paid Shopping"),
    ("paid-shopping-campaign", "google", "cpc", "shopping-q4", "Paid Shopping"),
    ("paid-shopping-campaign-shop", "acme", "cpc", "summer_shop", "Paid Shopping"),
    ("shop-after-letter-e", "google", "cpc", "eshop", "Paid Shopping"),
    ("shop-after-other-letter", "google", "cpc", "workshop", "Paid Search"),
    # Paid Search: search source AND medium ^(.*cp.*|ppc|retargeting|paid.*)$.
    ("paid-search-google", "google", "cpc", None, "Paid Search"),
    ("paid-search-bing", "bing", "ppc", None, "Paid Search"),
    ("paid-search-domain", "duckduckgo", "paidsearch", None, "Paid Search"),
    ("paid-search-retargeting", "yahoo", "retargeting", None, "Paid Search"),
    ("paid-search-cp-anywhere", "baidu", "ecpc", None, "Paid Search"),
    # Paid Social: social source AND paid medium.
    ("paid-social-facebook", "facebook", "paid_social", None, "Paid Social"),
    ("paid-social-domain", "l.facebook.com", "cpc", None, "Paid Social"),
    ("paid-social-linkedin", "linkedin", "paid", None, "Paid Social"),
    ("paid-social-tiktok", "tiktok", "cpm", None, "Paid Social"),
    ("paid-social-case", "Facebook", "Paid", None, "Paid Social"),
    # Paid Video: video source AND paid medium.
    ("paid-video-youtube", "youtube", "cpv", None, "Paid Video"),
    ("paid-video-vimeo", "vimeo.com", "paid", None, "Paid Video"),
    # Display: medium one of display, banner, expandable, interstitial, cpm.
    ("display", "gdn", "display", None, "Display"),
    ("display-banner", "acme", "banner", None, "Display"),
    ("display-interstitial", "acme", "interstitial", None, "Display"),
    ("display-expandable", "acme", "expandable", None, "Display"),
    ("display-cpm-unlisted-source", "acme", "cpm", None, "Display"),
    # Paid Other: paid medium, no listed source.
    ("paid-other", "acme", "cpc", None, "Paid Other"),
    ("paid-other-paid-prefix", "partner", "paid-native", None, "Paid Other"),
    ("paid-other-not-newsletter", "newsletter", "ppc", None, "Paid Other"),
    # Organic Shopping: shopping source OR shopping campaign.
    ("organic-shopping-source", "etsy", "referral", None, "Organic Shopping"),
    ("organic-shopping-domain", "shopping.naver.com", "referral", None, "Organic Shopping"),
    ("organic-shopping-campaign", "newsletter", "email", "black-friday-shop", "Organic Shopping"),
    # Organic Social: social source OR medium social|social-network|social-media|sm|...
    ("organic-social-domain", "l.facebook.com", "referral", None, "Organic Social"),
    ("organic-social-t-co", "t.co", "referral", None, "Organic Social"),
    ("organic-social-hn", "news.ycombinator.com", "referral", None, "Organic Social"),
    ("organic-social-reddit", "reddit", "referral", None, "Organic Social"),
    ("organic-social-medium", "acme", "social", None, "Organic Social"),
    ("organic-social-medium-sm", "acme", "sm", None, "Organic Social"),
    ("organic-social-medium-space", "acme", "social network", None, "Organic Social"),
    ("organic-social-tiktok-is-social", "tiktok.com", "referral", None, "Organic Social"),
    # Organic Video: video source OR medium ^(.*video.*)$.
    ("organic-video-youtube", "youtube.com", "referral", None, "Organic Video"),
    ("organic-video-m-youtube", "m.youtube.com", "referral", None, "Organic Video"),
    ("organic-video-medium", "acme", "webvideo", None, "Organic Video"),
    # Organic Search: search source OR medium exactly organic.
    ("organic-search-google", "google", "organic", None, "Organic Search"),
    ("organic-search-domain-referral", "search.aol.com", "referral", None, "Organic Search"),
    ("organic-search-ecosia", "ecosia.org", "referral", None, "Organic Search"),
    ("organic-search-any-organic", "acme", "organic", None, "Organic Search"),
    # Referral: medium one of referral, app, link.
    ("referral", "blog.partner.example", "referral", None, "Referral"),
    ("referral-app", "acme", "app", None, "Referral"),
    ("referral-link", "acme", "link", None, "Referral"),
    ("referral-webmail-gmail", "mail.google.com", "referral", None, "Referral"),
    ("referral-webmail-outlook", "outlook.live.com", "referral", None, "Referral"),
    ("referral-x-com-unlisted", "x.com", "referral", None, "Referral"),
    # Email: source or medium exactly email|e-mail|e_mail|e mail.
    ("email-medium", "newsletter", "email", None, "Email"),
    ("email-source", "e-mail", "blast", None, "Email"),
    ("email-underscore", "acme", "e_mail", None, "Email"),
    ("email-space", "acme", "E Mail", None, "Email"),
    ("email-not-newsletter", "acme", "newsletter", None, "Unassigned"),
    ("email-exact-only", "acme", "emails", None, "Unassigned"),
    # Affiliates: medium exactly affiliate.
    ("affiliates", "partner", "affiliate", None, "Affiliates"),
    # Audio: medium exactly audio.
    ("audio", "podcast", "audio", None, "Audio"),
    # SMS: source or medium exactly sms.
    ("sms-medium", "twilio", "sms", None, "SMS"),
    ("sms-source", "sms", "text", None, "SMS"),
    # Mobile Push Notifications: medium ends with push, contains mobile/notification, or
    # source exactly firebase.
    ("push-suffix", "app", "web-push", None, "Mobile Push Notifications"),
    ("push-mobile", "app", "mobile-alert", None, "Mobile Push Notifications"),
    ("push-notification", "app", "notification", None, "Mobile Push Notifications"),
    ("push-firebase", "firebase", "(not set)", None, "Mobile Push Notifications"),
    # Unassigned: no rule matches.
    ("unassigned", "zzz", "qqq", None, "Unassigned"),
    ("unassigned-not-set", "newsletter", "(not set)", None, "Unassigned"),
    ("unassigned-shopping-word-source", "shopping", "(not set)", None, "Unassigned"),
]


@pytest.mark.parametrize(
    ("source", "medium", "campaign", "expected"),
    [case[1:] for case in GA4_TABLE],
    ids=[case[0] for case in GA4_TABLE],
)
def test_ga4_default_channel_group(source, medium, campaign, expected):
    """Each source/medium/campaign lands in the channel GA4's published rules give it."""
    assert channel_group(source, medium, campaign) == expected


def test_table_is_large_enough_and_covers_every_channel():
    """At least 50 cases, and every GA4 channel (plus Unassigned) is exercised."""
    assert len(GA4_TABLE) >= 50
    assert {case[-1] for case in GA4_TABLE} == {*CHANNELS, "Unassigned"}


def test_rule_order_is_ga4s():
    """The channels, in the order GA4 evaluates them."""
    assert CHANNELS == (
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


def test_source_categories_are_googles_list():
    """The data file holds Google's list: its counts per category and its domain forms."""
    categories = source_categories()
    counts: dict[str, int] = {}
    for category in categories.values():
        counts[category] = counts.get(category, 0) + 1
    assert counts == {"social": 592, "search": 129, "shopping": 52, "video": 46}
    expected = {
        "facebook.com": "social",
        "l.facebook.com": "social",
        "m.facebook.com": "social",
        "lm.facebook.com": "social",
        "t.co": "social",
        "news.ycombinator.com": "social",
        "youtube.com": "video",
        "m.youtube.com": "video",
        "google": "search",
        "search.aol.com": "search",
        "google shopping": "shopping",
        "igshopping": "shopping",
    }
    assert {source: categories.get(source) for source in expected} == expected
    assert "mail.google.com" not in categories and "x.com" not in categories


def test_every_search_engine_name_is_a_search_source():
    """A referrer named after an engine is one of GA4's search sources, so it is Organic Search."""
    for _pattern, name in SEARCH_ENGINES:
        assert source_categories().get(name) == "search", name


# URL query, referrer -> (source, medium, channel), as GA4 derives and groups them.
DERIVED = [
    # No referrer, no tags: (direct) / (none); the same site's pages are internal.
    ("", None, ("(direct)", "(none)", "Direct")),
    ("", "https://shop.example/other", ("(direct)", "(none)", "Direct")),
    # Auto-tagging: gclid/gbraid/wbraid are google / cpc and win over UTM tags.
    ("?gclid=abc", None, ("google", "cpc", "Paid Search")),
    ("?wbraid=w1", None, ("google", "cpc", "Paid Search")),
    ("?gbraid=g1", "https://www.google.com/", ("google", "cpc", "Paid Search")),
    ("?utm_source=newsletter&utm_medium=email&gclid=x", None, ("google", "cpc", "Paid Search")),
    ("?utm_source=bing&utm_medium=cpc&gclid=x", None, ("google", "cpc", "Paid Search")),
    # GA4 does not read fbclid: the referrer decides (Meta adds fbclid to organic links).
    ("?fbclid=f1", "https://l.facebook.com/", ("l.facebook.com", "referral", "Organic Social")),
    ("?fbclid=f1", None, ("(direct)", "(none)", "Direct")),
    ("?fbclid=f1&utm_source=facebook&utm_medium=paid", None, ("facebook", "paid", "Paid Social")),
    # li_fat_id is not read either.
    ("?li_fat_id=l1", None, ("(direct)", "(none)", "Direct")),
    # closedloop's documented addition: msclkid/ttclid are ad-only, for untagged visits.
    ("?msclkid=m1", "https://www.bing.com/", ("bing", "cpc", "Paid Search")),
    ("?ttclid=t1", None, ("tiktok", "cpc", "Paid Social")),
    ("?msclkid=m1&utm_source=bing&utm_medium=organic", None, ("bing", "organic", "Organic Search")),
    # Search engine referrers: <engine> / organic.
    ("", "https://www.google.de/", ("google", "organic", "Organic Search")),
    ("", "https://www.google.co.uk/", ("google", "organic", "Organic Search")),
    ("", "https://duckduckgo.com/", ("duckduckgo", "organic", "Organic Search")),
    ("", "https://www.bing.com/search?q=x", ("bing", "organic", "Organic Search")),
    ("", "https://de.search.yahoo.com/", ("yahoo", "organic", "Organic Search")),
    # Other referrers: <host> / referral, grouped by GA4's source categories.
    ("", "https://t.co/abc", ("t.co", "referral", "Organic Social")),
    ("", "https://www.linkedin.com/feed/", ("linkedin.com", "referral", "Organic Social")),
    ("", "https://m.facebook.com/", ("m.facebook.com", "referral", "Organic Social")),
    (
        "",
        "https://news.ycombinator.com/item",
        ("news.ycombinator.com", "referral", "Organic Social"),
    ),
    ("", "https://www.youtube.com/watch", ("youtube.com", "referral", "Organic Video")),
    ("", "https://www.ecosia.org/search", ("ecosia.org", "referral", "Organic Search")),
    ("", "https://www.amazon.com/dp/1", ("amazon.com", "referral", "Organic Shopping")),
    # Webmail is a referral, not Email (GA4 has no webmail rule).
    ("", "https://mail.google.com/mail/u/0", ("mail.google.com", "referral", "Referral")),
    ("", "https://outlook.live.com/mail/", ("outlook.live.com", "referral", "Referral")),
    ("", "https://blog.partner.example/post", ("blog.partner.example", "referral", "Referral")),
    # UTM tags, lowercased; a missing medium or source is (not set).
    ("?utm_source=newsletter&utm_medium=email", None, ("newsletter", "email", "Email")),
    (
        "?utm_source=Facebook&utm_medium=paid_social",
        None,
        ("facebook", "paid_social", "Paid Social"),
    ),
    ("?utm_source=gclid_only", None, ("gclid_only", "(not set)", "Unassigned")),
    ("?utm_medium=cpc", None, ("(not set)", "cpc", "Paid Other")),
    (
        "?utm_source=google&utm_medium=cpc&utm_campaign=cross-network",
        None,
        ("google", "cpc", "Cross-network"),
    ),
    ("?utm_source=reddit&utm_medium=referral", None, ("reddit", "referral", "Organic Social")),
]


@pytest.mark.parametrize(("query", "referrer", "expected"), DERIVED)
def test_source_medium_and_channel_of_a_page_view(query, referrer, expected):
    """Auto-tagging beats UTM beats referrer, and each lands in GA4's channel for it."""
    url = PAGE + query
    parsed = parse_source(url, referrer, {}, click_ids_in(query_params(url)))
    assert (parsed.source, parsed.medium, parsed.channel) == expected


def test_auto_tagging_keeps_the_utm_campaign():
    """A gclid sets source/medium; the campaign, term and content of the tags are kept."""
    url = PAGE + "?gclid=g&utm_source=x&utm_medium=y&utm_campaign=spring&utm_term=crm"
    parsed = parse_source(url, None, {}, click_ids_in(query_params(url)))
    assert (parsed.source, parsed.medium, parsed.campaign, parsed.term) == (
        "google",
        "cpc",
        "spring",
        "crm",
    )


def test_spend_labels_match_the_channel_of_their_traffic():
    """Spend rows carry the channel GA4 gives the platform's source/medium."""
    declared = [(n, load(p).traffic) for n, p in SPEND_SOURCES.items() if load(p).rows == "spend"]
    assert declared
    for platform, (source, medium, channel) in declared:
        assert channel_group(source, medium) == channel, platform


def test_utm_fields_kept():
    """Campaign, term and content come from the URL's UTM tags."""
    url = (
        PAGE + "?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=crm&utm_content=ad1"
    )
    parsed = parse_source(url, None, {}, {})
    assert (parsed.campaign, parsed.term, parsed.content) == ("spring", "crm", "ad1")


def test_snippet_utm_fills_gaps():
    """UTM tags the snippet sent are used when the URL no longer carries them."""
    parsed = parse_source(PAGE, None, {"source": "bing", "medium": "cpc", "campaign": "c"}, {})
    assert (parsed.source, parsed.medium, parsed.campaign, parsed.channel) == (
        "bing",
        "cpc",
        "c",
        "Paid Search",
    )


def test_direct_is_not_explicit():
    """A direct visit is marked so a running session can keep its source."""
    assert parse_source(PAGE, None, {}, {}).explicit is False
    assert channel_group("(direct)", "(none)") == "Direct"
