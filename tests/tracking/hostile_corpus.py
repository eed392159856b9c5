"""Hostile but schema-shaped hits, shared by every database the suite runs on.

Each case is a request body for ``/collect`` or ``/identify`` and what must come of it: stored
(with the values that must be there), or a 400 naming the field. Found by fuzzing on PostgreSQL,
which refuses what SQLite silently keeps: NUL characters, strings over ``varchar(n)`` after
lower-casing or percent-decoding, and a derived ``fbc`` longer than its column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

VISITOR = "v-hostile-000001"
PAGE = "https://shop.example/landing"
DOTTED_I = "İ"  # lower-cases to two characters: "i" + U+0307
FBCLID_512 = "F" * 512


@dataclass(frozen=True)
class Case:
    """One hostile request and its expected outcome."""

    name: str
    path: str
    body: dict[str, Any]
    status: int
    rejects: str | None = None  # the field a 400 must name
    stored: dict[str, Any] = field(default_factory=dict)  # row values after a 2xx


def _view(**overrides: Any) -> dict[str, Any]:
    return {"visitor_id": VISITOR, "url": PAGE, **overrides}


COLLECT = [
    Case("nul in title", "/collect", _view(title="Pri\x00cing"), 204, stored={"title": "Pricing"}),
    Case(
        "nul in url", "/collect", _view(url=PAGE + "?a=\x00b"), 204, stored={"url": PAGE + "?a=b"}
    ),
    Case(
        "nul in referrer",
        "/collect",
        _view(referrer="https://news.example/\x00x"),
        204,
        stored={"referrer": "https://news.example/x", "source": "news.example"},
    ),
    Case(
        "percent-encoded nul in a url tag",
        "/collect",
        _view(url=PAGE + "?utm_source=goo%00gle&utm_medium=cpc"),
        204,
        stored={"source": "google", "medium": "cpc"},
    ),
    Case(
        "percent-encoded nul in a click id",
        "/collect",
        _view(url=PAGE + "?gclid=%00abc"),
        204,
        stored={"click_ids": {"gclid": "abc"}},
    ),
    Case(
        "nul in fbp",
        "/collect",
        _view(fbp="fb.1.170000\x000000000.42"),  # Meta's form: 13-digit creation time
        204,
        stored={"fbp": "fb.1.1700000000000.42"},
    ),
    Case(
        "512-character fbclid in the body",
        "/collect",
        _view(click_ids={"fbclid": FBCLID_512}),
        204,
        stored={"click_ids": {"fbclid": FBCLID_512}},
    ),
    Case(
        "512-character fbclid in the url",
        "/collect",
        _view(url=PAGE + "?fbclid=" + FBCLID_512),
        204,
        stored={"click_ids": {"fbclid": FBCLID_512}},
    ),
    Case(
        "255 dotted capital I as utm.source",
        "/collect",
        _view(utm={"source": DOTTED_I * 255}),
        400,
        rejects="utm.source",
    ),
    Case(
        "255 dotted capital I as utm.medium",
        "/collect",
        _view(utm={"source": "x", "medium": DOTTED_I * 255}),
        400,
        rejects="utm.medium",
    ),
    Case(
        "255 dotted capital I in the url's utm_source",
        "/collect",
        _view(url=PAGE + "?utm_medium=cpc&utm_source=" + quote(DOTTED_I * 255)),
        204,
        stored={"medium": "cpc"},
    ),
    Case(
        "long utm_campaign in the url",
        "/collect",
        _view(url=PAGE + "?utm_source=a&utm_medium=b&utm_campaign=" + quote(DOTTED_I * 600)),
        204,
        stored={"campaign": DOTTED_I * 255},
    ),
    Case(
        "referrer host of dotted capital I",
        "/collect",
        _view(referrer="https://" + "xİ" * 120 + ".example/"),
        204,
        stored={"medium": "referral"},
    ),
    Case("title of 512 astral characters", "/collect", _view(title="😀" * 512), 204),
    Case("lone surrogate in title", "/collect", _view(title="a\ud800b"), 400, rejects="title"),
    Case(
        "lone surrogate in a url tag",
        "/collect",
        _view(utm={"source": "\udfff"}),
        400,
        rejects="utm.source",
    ),
    Case(
        "consent as a number",
        "/collect",
        _view(consent={"ad_user_data": True, "ad_personalization": 0}),
        400,
        rejects="consent.ad_personalization",
    ),
    Case("only nul as title", "/collect", _view(title="\x00\x00"), 204, stored={"title": ""}),
]

IDENTIFY = [
    Case(
        "nul in email",
        "/identify",
        {"visitor_id": VISITOR, "email": "ann\x00@example.com"},
        202,
        stored={"email": "ann@example.com"},
    ),
    Case(
        "nul in phone and page url",
        "/identify",
        {"visitor_id": VISITOR, "phone": "+1 415\x00 555 0123", "page_url": PAGE + "/\x00c"},
        202,
        stored={"phone_e164": "+14155550123"},
    ),
    Case(
        "email of dotted capital I longer than its column once lower-cased",
        "/identify",
        {"visitor_id": VISITOR, "email": DOTTED_I * 300 + "@example.com"},
        400,
        rejects="email",
    ),
    Case(
        "lone surrogate in email",
        "/identify",
        {"visitor_id": VISITOR, "email": "a\ud800@example.com"},
        400,
        rejects="email",
    ),
]

CASES = COLLECT + IDENTIFY
