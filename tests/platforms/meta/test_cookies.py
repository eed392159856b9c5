"""Meta's _fbc/_fbp rules, with Meta's parameter builder (capi-param-builder) as the judge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from capi_param_builder import ParamBuilder

from platforms.meta.cookies import (
    clean_hit,
    parse_fbc,
    parse_fbp,
    pick_fbc,
    renew_fbc,
    subdomain_index,
)

NOW = datetime(2026, 6, 3, 9, 30, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
MARCH = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
MARCH_MS = int(MARCH.timestamp() * 1000)


def builder_sees(name: str, value: str) -> str | None:
    """The builder's value if it kept the cookie it read (None: it dropped or replaced it)."""
    builder = ParamBuilder(["example.com"])
    builder.process_request("example.com", {}, {name: value})
    kept = builder.get_fbc() if name == "_fbc" else builder.get_fbp()
    return kept if kept is not None and kept.startswith(value) else None


COOKIE_FORMS = [
    ("_fbc", f"fb.1.{MARCH_MS}.IwAR2F4-dbP0l7Mn1IawQQ"),
    ("_fbc", f"fb.2.{MARCH_MS}.IwZXh0bgNhZW0CMTEAAR_aem_x-Y"),
    ("_fbc", f"fb.1.{MARCH_MS}.IwAR2F4.AQICAQMC"),
    ("_fbc", f"fb.1.{MARCH_MS}.IwAR2F4.Ag"),
    ("_fbc", f"fb.1.{MARCH_MS}.IwAR2F4.Bg"),
    ("_fbc", f"fb.1.{MARCH_MS}.IwAR2F4.Zz"),
    ("_fbc", f"fb.1.{MARCH_MS}.IwAR2F4.AQICAQ"),
    ("_fbc", f"fb.1.{MARCH_MS}.IwAR2F4.AQICAQMC.Ag"),
    ("_fbc", f"fb.1.{MARCH_MS}"),
    ("_fbp", f"fb.1.{MARCH_MS}.1098115397"),
    ("_fbp", f"fb.1.{MARCH_MS}.1098115397.AQICAQMC"),
    ("_fbp", f"fb.0.{MARCH_MS}.1098115397.Ag"),
    ("_fbp", f"fb.1.{MARCH_MS}.1098115397.AQ"),
    ("_fbp", f"fb.1.{MARCH_MS}.1098115397.xx"),
    ("_fbp", f"fb.1.{MARCH_MS}.1098115397.AQICAQMCAA"),
    ("_fbp", f"fb.1.{MARCH_MS}.1098115397.AQICAQMC.Ag"),
    ("_fbp", "fb.1.1098115397"),
]


@pytest.mark.parametrize(("name", "value"), COOKIE_FORMS)
def test_cookie_forms_accepted_exactly_as_the_builder_accepts_them(name, value):
    """A cookie is valid for us iff Meta's builder keeps it; a kept value passes unchanged."""
    parse = parse_fbc if name == "_fbc" else parse_fbp
    ours = parse(value)
    theirs = builder_sees(name, value)
    assert (ours is not None) == (theirs is not None), (value, theirs)
    if ours is not None:
        assert ours.value == value
        assert theirs is not None and theirs.startswith(value)  # the builder may stamp one on


def test_values_the_builder_writes_are_accepted_and_passed_as_they_are():
    """New _fbp and _fbc written by Meta's builder (with its appendix) are kept byte for byte."""
    builder = ParamBuilder(["example.com"])
    builder.process_request("www.example.com", {"fbclid": ["IwAR2-new_Click"]}, {})
    fbc, fbp = builder.get_fbc(), builder.get_fbp()
    assert fbc.count(".") == 4 and fbp.count(".") == 4  # with the builder's appendix
    kept = clean_hit(fbc, fbp, "IwAR2-new_Click", NOW, True)
    assert (kept.fbc, kept.fbp, kept.dropped) == (fbc, fbp, ())


RENEWALS = [
    (None, "IwAR-June"),
    (f"fb.1.{MARCH_MS}.IwAR-March", "IwAR-June"),
    (f"fb.1.{MARCH_MS}.IwAR-March.AQICAQMC", "IwAR-June"),
    (f"fb.1.{MARCH_MS}.IwAR-June", "IwAR-June"),
    (f"fb.1.{MARCH_MS}.IwAR-June.Ag", "IwAR-June"),
    (f"fb.1.{MARCH_MS}.iwar-june", "IwAR-June"),  # fbclid case matters
    ("garbage", "IwAR-June"),
    (f"fb.1.{MARCH_MS}.IwAR-March", None),
]


@pytest.mark.parametrize(("cookie", "fbclid"), RENEWALS)
def test_fbc_renewed_when_the_builder_renews_it(cookie, fbclid):
    """Same decision and same fb.<index>.<ms>.<fbclid> as the builder, at the same instant."""
    cookies = {"_fbc": cookie} if cookie else {}
    queries = {"fbclid": [fbclid]} if fbclid else {}
    with time_machine.travel(NOW, tick=False):
        builder = ParamBuilder(["example.com"])
        builder.process_request("example.com", queries, cookies)
    theirs = builder.get_fbc()
    ours = renew_fbc(cookie, fbclid, NOW)
    builder_renewed = any(
        c.name == "_fbc" and fbclid and fbclid in c.value for c in builder.get_cookies_to_set()
    ) and not (cookie and theirs.startswith(cookie))
    assert (ours != cookie) == bool(builder_renewed)
    if builder_renewed:
        assert ours == ".".join(theirs.split(".")[:4]) == f"fb.1.{NOW_MS}.{fbclid}"
    elif theirs is None:
        assert ours is None
    else:
        assert theirs.startswith(ours)


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("example.com", "example.com"),
        ("www.example.com", "example.com"),
        ("www.example.com", "www.example.com"),  # a host-only cookie on www
        ("shop.example.co.uk", "example.co.uk"),
        ("a.b.shop.example.co.uk", "b.shop.example.co.uk"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]:8080", "::1"),
    ],
)
def test_subdomain_index_from_the_cookie_domain_as_the_builder_counts_it(host, domain):
    """The index counts the cookie domain's labels, as the builder's does for its domain."""
    builder = ParamBuilder([domain])
    builder.process_request(host, {}, {})
    assert subdomain_index(domain) == builder.sub_domain_index
    assert subdomain_index("." + domain) == builder.sub_domain_index  # a Domain= attribute


def test_host_only_cookie_on_www_is_index_2():
    """Meta's documented example: www.example.com is 2, example.com 1, com 0."""
    assert [subdomain_index(d) for d in ("com", "example.com", "www.example.com")] == [0, 1, 2]


def test_malformed_cookies_dropped_with_reasons():
    """A malformed fbc/fbp is never stored; the reasons name which one."""
    kept = clean_hit("fb.1.12.x y", "fb.1.123.abc", None, NOW, True)
    assert (kept.fbc, kept.fbp) == (None, None)
    assert kept.dropped == ("malformed_fbc", "malformed_fbp")
    renewed = clean_hit("fb.bad", None, "IwAR-new", NOW, None)
    assert renewed.fbc == f"fb.1.{NOW_MS}.IwAR-new" and renewed.dropped == ("malformed_fbc",)


def test_no_new_click_cookie_without_consent():
    """A denied ad_user_data keeps what the site set but makes no new fbc."""
    assert clean_hit(None, None, "IwAR-new", NOW, False).fbc is None


class TestPickFbc:
    """The fbc sent with a conversion: the newest fbclid click before the close wins."""

    june = NOW
    march_cookie = f"fb.1.{MARCH_MS}.IwAR-March"

    def test_newer_click_beats_an_old_cookie(self):
        """A March cookie still on the June page view loses to the June click and its time."""
        clicks = [("IwAR-March", MARCH), ("IwAR-June", self.june)]
        assert pick_fbc([self.march_cookie], clicks) == f"fb.1.{NOW_MS}.IwAR-June"

    def test_cookie_of_the_newest_click_is_sent_as_is(self):
        """Meta's own cookie for the newest click (appendix and all) is preferred."""
        cookie = f"fb.2.{NOW_MS - 5}.IwAR-June.AQICAQMC"
        clicks = [("IwAR-March", MARCH), ("IwAR-June", self.june)]
        assert pick_fbc([self.march_cookie, cookie], clicks) == cookie

    def test_cookie_newer_than_every_click_wins(self):
        """A click that landed on an untracked page is still the newest click."""
        cookie = f"fb.1.{NOW_MS}.IwAR-Elsewhere"
        assert pick_fbc([cookie], [("IwAR-March", MARCH)]) == cookie

    def test_split_unit_gets_its_own_click(self):
        """In split mode each click's event carries that click, never a newer one."""
        clicks = [("IwAR-March", MARCH), ("IwAR-June", self.june)]
        assert pick_fbc([], clicks, ("IwAR-March", MARCH)) == f"fb.1.{MARCH_MS}.IwAR-March"

    def test_untimed_click_needs_its_cookie(self):
        """A CRM-only fbclid of unknown time gets no invented time."""
        assert pick_fbc([], [("IwAR-Crm", None)], ("IwAR-Crm", None)) is None
        assert pick_fbc([], [("IwAR-Crm", None)]) is None

    def test_no_click_newest_valid_cookie(self):
        """Without clicks, the newest well-formed cookie; malformed ones never."""
        older = f"fb.1.{MARCH_MS}.IwAR-A"
        newer = f"fb.1.{MARCH_MS + 1000}.IwAR-B"
        assert pick_fbc([newer, "bad", older], []) == newer
        assert pick_fbc(["bad"], []) is None

    def test_late_click_after_cookie_time(self):
        """Clicks are compared by time, not by the order they were found."""
        clicks = [("IwAR-June", self.june), ("IwAR-March", MARCH)]
        got = pick_fbc([], clicks)
        assert got == f"fb.1.{NOW_MS}.IwAR-June"
        assert pick_fbc([], [("IwAR-June", self.june - timedelta(days=1))]).startswith("fb.1.")
