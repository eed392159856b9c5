"""Source/medium parsing and GA4 default channel groups."""

from __future__ import annotations

import pytest

from connector.tracking.channels import channel_group, click_ids_in, parse_source, query_params

PAGE = "https://shop.example/p"


@pytest.mark.parametrize(
    ("query", "referrer", "expected"),
    [
        ("", None, ("(direct)", "(none)", "Direct")),
        ("", "https://shop.example/other", ("(direct)", "(none)", "Direct")),
        ("?gclid=abc", None, ("google", "cpc", "Paid Search")),
        ("?wbraid=w1", None, ("google", "cpc", "Paid Search")),
        ("?gbraid=g1", "https://www.google.com/", ("google", "cpc", "Paid Search")),
        ("?msclkid=m1", None, ("bing", "cpc", "Paid Search")),
        ("?fbclid=f1", "https://l.facebook.com/", ("facebook", "paid", "Paid Social")),
        ("?ttclid=t1", None, ("tiktok", "paid", "Paid Social")),
        ("?li_fat_id=l1", None, ("linkedin", "paid", "Paid Social")),
        ("", "https://www.google.de/", ("google", "organic", "Organic Search")),
        ("", "https://duckduckgo.com/", ("duckduckgo", "organic", "Organic Search")),
        ("", "https://www.bing.com/search?q=x", ("bing", "organic", "Organic Search")),
        ("", "https://t.co/abc", ("twitter", "social", "Organic Social")),
        ("", "https://www.linkedin.com/feed/", ("linkedin", "social", "Organic Social")),
        ("", "https://m.facebook.com/", ("facebook", "social", "Organic Social")),
        ("", "https://www.youtube.com/watch", ("youtube", "referral", "Organic Video")),
        ("", "https://mail.google.com/mail/u/0", ("gmail", "email", "Email")),
        ("", "https://blog.partner.example/post", ("blog.partner.example", "referral", "Referral")),
        ("?utm_source=newsletter&utm_medium=email", None, ("newsletter", "email", "Email")),
        ("?utm_source=google&utm_medium=cpc&gclid=x", None, ("google", "cpc", "Paid Search")),
        (
            "?utm_source=Facebook&utm_medium=paid_social",
            None,
            ("facebook", "paid_social", "Paid Social"),
        ),
        ("?utm_source=gdn&utm_medium=display", None, ("gdn", "display", "Display")),
        ("?utm_source=partner&utm_medium=affiliate", None, ("partner", "affiliate", "Affiliates")),
        ("?utm_source=twilio&utm_medium=sms", None, ("twilio", "sms", "SMS")),
        ("?utm_source=acme&utm_medium=cpc", None, ("acme", "cpc", "Paid Other")),
        ("?utm_source=youtube&utm_medium=cpv", None, ("youtube", "cpv", "Paid Video")),
        ("?utm_source=x&utm_medium=banner", None, ("x", "banner", "Display")),
        ("?utm_source=podcast&utm_medium=audio", None, ("podcast", "audio", "Audio")),
        (
            "?utm_source=firebase&utm_medium=notification",
            None,
            ("firebase", "notification", "Mobile Push Notifications"),
        ),
        ("?utm_source=zzz&utm_medium=qqq", None, ("zzz", "qqq", "Unassigned")),
        (
            "?utm_source=google&utm_medium=cpc&utm_campaign=shopping-q4",
            None,
            ("google", "cpc", "Paid Shopping"),
        ),
        (
            "?utm_source=google&utm_medium=cpc&utm_campaign=cross-network",
            None,
            ("google", "cpc", "Cross-network"),
        ),
        ("?utm_source=reddit&utm_medium=referral", None, ("reddit", "referral", "Organic Social")),
        ("?utm_source=gclid_only", None, ("gclid_only", "(not set)", "Unassigned")),
    ],
)
def test_source_and_channel(query, referrer, expected):
    """UTM beats click IDs beats referrer, and each maps to GA4's default channel group."""
    url = PAGE + query
    params = query_params(url)
    parsed = parse_source(url, referrer, {}, click_ids_in(params))
    assert (parsed.source, parsed.medium, parsed.channel) == expected


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
