"""Meta's browser IDs ``_fbc`` and ``_fbp``: their forms, and when ``_fbc`` is renewed.

Sources: developers.facebook.com/docs/marketing-api/conversions-api/parameters/fbp-and-fbc and
Meta's parameter builder (``capi-param-builder-python``), whose behaviour the tests use as the
expected side. The rules, in Meta's words and the builder's code:

* ``fb.<subdomainIndex>.<creationTime ms>.<payload>``, optionally followed by an appendix that
  Meta's own tools add: an 8-character base64url block (``AQICAQMC``) or one of the legacy
  2-character language tokens (``Ag``...). The payload is the fbclid (case kept) for ``_fbc``,
  a random number for ``_fbp``. Values are passed on exactly as the cookie holds them.
* The subdomain index counts the labels of the domain the cookie is set on, minus one
  (``example.com`` 1, a host-only cookie on ``www.example.com`` 2, an IP address 0). A value
  built on the server without a cookie uses 1.
* When the landing URL carries an fbclid other than the one in ``_fbc``, ``_fbc`` is rewritten
  with the new click and its time: the newest click is the one Meta should hear about.

This module is pure (no SDK import), so tracking and planning can use it on their hot paths.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Legacy appendix tokens (one per SDK language) Meta's parameter builders accept.
LEGACY_APPENDIX = frozenset({"AQ", "Ag", "Aw", "BA", "BQ", "Bg"})
_APPENDIX = r"(?:\.(AQ|Ag|Aw|BA|BQ|Bg|[A-Za-z0-9_-]{8}))?"
#: fb.<index>.<creation ms, 13 digits: 2001-09-09 to 2286>.<payload>[.<appendix>], one regex
#: each (this runs for every page view).
_FBC = re.compile(rf"fb\.([0-9]{{1,3}})\.([0-9]{{13}})\.([A-Za-z0-9_-]{{1,500}}){_APPENDIX}")
_FBP = re.compile(rf"fb\.([0-9]{{1,3}})\.([0-9]{{13}})\.([0-9]{{1,20}}){_APPENDIX}")
FBCLID = re.compile(r"[A-Za-z0-9_-]{1,500}")
#: Subdomain index of an fbc built on the server without a cookie (Meta's documented value).
SERVER_SUBDOMAIN_INDEX = 1
#: Longest value stored (the tracking columns' widths).
MAX_FBC, MAX_FBP = 512, 128


@dataclass(frozen=True)
class FbCookie:
    """A parsed ``_fbc`` or ``_fbp`` value; ``value`` is the cookie exactly as given."""

    value: str
    subdomain_index: int
    created_ms: int
    payload: str
    appendix: str | None

    @property
    def created_at(self) -> datetime:
        """When the cookie was made (for ``_fbc``: when the click was first seen)."""
        return datetime.fromtimestamp(self.created_ms / 1000, UTC)


def _match(value: Any, pattern: re.Pattern[str], max_length: int) -> re.Match[str] | None:
    if not isinstance(value, str) or len(value) > max_length:
        return None
    return pattern.fullmatch(value)


def _parse(value: Any, pattern: re.Pattern[str], max_length: int) -> FbCookie | None:
    match = _match(value, pattern, max_length)
    if match is None:
        return None
    index, created, payload, appendix = match.groups()
    return FbCookie(match.string, int(index), int(created), payload, appendix)


def parse_fbc(value: Any) -> FbCookie | None:
    """The ``_fbc`` value if it has Meta's form, else None."""
    return _parse(value, _FBC, MAX_FBC)


def parse_fbp(value: Any) -> FbCookie | None:
    """The ``_fbp`` value if it has Meta's form, else None."""
    return _parse(value, _FBP, MAX_FBP)


def subdomain_index(cookie_domain: str) -> int:
    """Meta's subdomain index for a cookie set on ``cookie_domain`` (a host or a Domain=)."""
    domain = cookie_domain.strip().strip(".").lower()
    if domain.startswith("[") and domain.endswith("]"):
        domain = domain[1:-1]
    try:
        ipaddress.ip_address(domain)
        return 0
    except ValueError:
        pass
    return max(len(domain.split(".")) - 1, 0) if domain else 0


def build_fbc(fbclid: str, clicked_at: datetime, index: int = SERVER_SUBDOMAIN_INDEX) -> str | None:
    """``fb.<index>.<click ms>.<fbclid>``, or None for an fbclid Meta's form cannot carry."""
    if not FBCLID.fullmatch(fbclid):
        return None
    millis = int(clicked_at.timestamp() * 1000)  # an aware time: the same instant in any zone
    value = f"fb.{index}.{millis}.{fbclid}"
    return value if _match(value, _FBC, MAX_FBC) else None


def renew_fbc(
    current: str | None,
    fbclid: str | None,
    clicked_at: datetime,
    index: int = SERVER_SUBDOMAIN_INDEX,
) -> str | None:
    """The ``_fbc`` after a page view: renewed when the URL's fbclid differs from the cookie's.

    A valid cookie carrying the same fbclid stays as it is (it holds the first time that click
    was seen); a missing or malformed one is replaced, as Meta's parameter builder does.
    """
    match = _match(current, _FBC, MAX_FBC)
    if fbclid is None or not FBCLID.fullmatch(fbclid):
        return current if match else None
    if match is not None and match.group(3) == fbclid:
        return current
    return build_fbc(fbclid, clicked_at, index)


@dataclass(frozen=True)
class HitCookies:
    """What a page view keeps of Meta's cookies, and why anything it carried was dropped."""

    fbc: str | None
    fbp: str | None
    dropped: tuple[str, ...] = ()


def clean_hit(
    fbc: str | None,
    fbp: str | None,
    fbclid: str | None,
    seen_at: datetime,
    ad_user_data: bool | None,
) -> HitCookies:
    """Meta's cookies of one page view as they should be stored (the server side of /collect).

    A malformed cookie is dropped (with its reason), never stored; an fbclid that differs from
    the one in ``_fbc`` renews it with this page view's time, unless the visitor denied
    ad_user_data (then no new click cookie is made, as the snippet makes none).
    """
    dropped = []
    if fbc is not None and _match(fbc, _FBC, MAX_FBC) is None:
        dropped.append("malformed_fbc")
        fbc = None
    if fbp is not None and _match(fbp, _FBP, MAX_FBP) is None:
        dropped.append("malformed_fbp")
        fbp = None
    if ad_user_data is not False and fbclid is not None:
        fbc = renew_fbc(fbc, fbclid, seen_at)
    return HitCookies(fbc, fbp, tuple(dropped))


def clean_page_view(
    cookies: dict[str, str | None],
    click_ids: dict[str, str],
    seen_at: datetime,
    ad_user_data: bool | None,
) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """:func:`clean_hit` in the shape tracking asks every platform (``BROWSER_COOKIES``)."""
    kept = clean_hit(
        cookies.get("fbc"), cookies.get("fbp"), click_ids.get("fbclid"), seen_at, ad_user_data
    )
    return {"fbc": kept.fbc, "fbp": kept.fbp}, kept.dropped


def pick_fbc(
    cookies: Iterable[str | None],
    clicks: Iterable[tuple[str, datetime | None]],
    unit: tuple[str, datetime | None] | None = None,
) -> str | None:
    """The fbc to send with a conversion: the newest fbclid click wins, with that click's time.

    ``cookies`` are the ``_fbc`` values the journey's page views carried (any order),
    ``clicks`` its fbclid clicks with the time each was first seen, ``unit`` the click the
    conversion is credited to, if any (split mode sends one event per click). A cookie that
    carries the chosen click's fbclid is sent as is (Meta's own value, appendix and all);
    otherwise the fbc is built from the click and its time. A cookie newer than every known
    click (its click landed on an untracked page) is the newest click itself.
    """
    parsed = [c for c in map(parse_fbc, cookies) if c is not None]
    timed = [(value, time) for value, time in clicks if time is not None]
    if unit is not None and unit[1] is not None:
        chosen: tuple[str, datetime] | None = (unit[0], unit[1])
    else:
        chosen = max(timed, key=lambda c: c[1]) if timed else None
    if chosen is not None:
        value, time = chosen
        same = [c for c in parsed if c.payload == value]
        if same:
            return min(same, key=lambda c: c.created_ms).value
        newer = [c for c in parsed if c.created_at > time]
        if unit is None and newer:
            return max(newer, key=lambda c: c.created_ms).value
        return build_fbc(value, time)
    if unit is not None:  # a click of unknown time: only a cookie that carries it
        same = [c for c in parsed if c.payload == unit[0]]
        return min(same, key=lambda c: c.created_ms).value if same else None
    return max(parsed, key=lambda c: c.created_ms).value if parsed else None
