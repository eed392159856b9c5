"""Auto-tagged Google clicks (gclid, no UTMs) meet their campaign's spend on the same row.

A real Google Ads sandbox answers click_view and the spend queries over the SDK; the spend
pull resolves the stored gclids, and the source report is read back. Hand-computed world
(day D = five days ago, reporting currency USD):

- t1: gclid-search, Search campaign 11 "Brand search" / ad group 21 / keyword 31 "acme",
  then t5, a second page of that session; deal D1 1,000 USD over t1 and t5 (last click: t5).
  Then t6/t7, a later Direct session of the same visitor, not part of the click. Spend on
  campaign 11: 100 USD.
- t2: gclid-display, Display campaign 12 "Remarketing" / ad group 22 (no keyword);
  deal D2 500 USD. Spend: 40 USD (ad-group level, so keyword "(not set)").
- t3: gclid-unknown, a gclid Google does not know (another account); deal D3 300 USD.
- t4: an email visit with UTMs (campaign "digest"), deal D4 50 USD: untouched by resolution.

Expected, by campaign: Brand search 1,000 / 100 (ROI 900 %), Remarketing 500 / 40
(ROI 1,150 %), (not set) 300 / 0, digest 50 / 0. By keyword: acme 1,000 / 100; (not set)
500 + 300 = 800 / 40; (not set) gets no UTM term from t3 either. By channel: Paid Search
1,000 + 300 = 1,300 / 100; Display 500 / 40; Email 50.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from reports_conftest import attributions
from sqlalchemy import select

from connector.reports import ReportRange, source_report
from connector.runtime import Runtime
from connector.spend import pull_spend
from connector.storage.models import ClickId, ClickResolution, Deal, Person, Touchpoint, Visitor
from platforms.google_ads.sandbox.ads import GoogleAdsApiServer
from platforms.google_ads.sandbox.click_view import ClickSource
from platforms.sandbox_kit.tls import shared_certificate

shared_certificate()  # gRPC reads its trusted roots once per process

CUSTOMER = "1234567890"
NOW = datetime.now(UTC).replace(microsecond=0)
D = (NOW - timedelta(days=5)).replace(hour=12, minute=0, second=0)
DAY = D.date()
SEARCH = ClickSource("11", "Brand search", "SEARCH", "21", "Brand", "31", "acme", "EXACT")
DISPLAY = ClickSource("12", "Remarketing", "DISPLAY", "22", "Visitors")


@pytest.fixture
def google() -> Iterator[GoogleAdsApiServer]:
    with GoogleAdsApiServer() as server:
        server.add_customer(CUSTOMER, currency="USD")
        server.add_click("gclid-search", D, customer_id=CUSTOMER, source=SEARCH)
        server.add_click("gclid-display", D, customer_id=CUSTOMER, source=DISPLAY)
        server.add_spend(
            DAY,
            campaign_id="11",
            campaign="Brand search",
            ad_group_id="21",
            ad_group="Brand",
            keyword_id="31",
            keyword="acme",
            cost="100",
            clicks=10,
        )
        server.add_spend(
            DAY,
            campaign_id="12",
            campaign="Remarketing",
            ad_group_id="22",
            ad_group="Visitors",
            cost="40",
            clicks=30,
            channel_type="DISPLAY",
        )
        yield server


@pytest.fixture
def world(make_settings, google: GoogleAdsApiServer) -> Iterator[Runtime]:
    settings = make_settings(
        {
            "platforms": {
                "google_ads": {
                    "enabled": True,
                    "api": "google_ads",
                    "customer_id": CUSTOMER,
                    "conversion_action_id": "700000002",
                    "developer_token": "sandbox-developer-token",
                    "credentials": google.credentials_info(),
                    "endpoint": google.endpoint,
                }
            }
        }
    )
    runtime = Runtime.from_settings(settings)
    touches = [
        # id, gclid, channel, source, medium, campaign, deal, amount
        (1, "gclid-search", "Paid Search", "google", "cpc", None, "D1", "1000"),
        (2, "gclid-display", "Paid Search", "google", "cpc", None, "D2", "500"),
        (3, "gclid-unknown", "Paid Search", "google", "cpc", None, "D3", "300"),
        (4, None, "Email", "newsletter", "email", "digest", "D4", "50"),
    ]
    with runtime.sessions.begin() as s:
        for n, gclid, channel, source, medium, campaign, deal, amount in touches:
            s.add(Person(id=n, email_sha256=f"{n:064x}"))
            s.add(Visitor(id=f"v{n}", person_id=n))
            s.flush()
            s.add(
                Touchpoint(
                    id=n,
                    visitor_id=f"v{n}",
                    occurred_at=D,
                    url="https://shop.example/" + (f"?gclid={gclid}" if gclid else ""),
                    channel=channel,
                    source=source,
                    medium=medium,
                    campaign=campaign,
                    is_new_session=True,
                    click_ids={"gclid": gclid} if gclid else None,
                )
            )
            s.flush()
            if gclid:
                s.add(
                    ClickId(
                        visitor_id=f"v{n}",
                        kind="gclid",
                        value=gclid,
                        first_seen_at=D,
                        touchpoint_id=n,
                    )
                )
            close = D + timedelta(hours=2)
            s.add(
                Deal(
                    id=deal,
                    amount=Decimal(amount),
                    currency="USD",
                    created_time=D + timedelta(hours=1),
                    close_time=close,
                    is_won=True,
                    is_closed=True,
                    contact_ids=[f"c{n}"],
                    stage="closedwon",
                    match_status="matched",
                )
            )
            s.flush()
            if n == 1:
                continue  # D1's journey includes the page inside t1's session, added below
            s.add_all(attributions(deal, amount, "USD", close, [(n, D)]))
        # v1 reads a second page in the Google session (t5), then comes back directly (t6) and
        # reads on (t7). Under last click, D1 goes to t5: the session's page, not the landing.
        for n, minutes, new, channel, source, medium in [
            (5, 10, False, "Paid Search", "google", "cpc"),
            (6, 30, True, "Direct", None, None),
            (7, 31, False, "Direct", None, None),
        ]:
            s.add(
                Touchpoint(
                    id=n,
                    visitor_id="v1",
                    occurred_at=D + timedelta(minutes=minutes),
                    url="https://shop.example/pricing",
                    channel=channel,
                    source=source,
                    medium=medium,
                    is_new_session=new,
                )
            )
        s.flush()
        s.add_all(
            attributions(
                "D1",
                "1000",
                "USD",
                D + timedelta(hours=2),
                [(1, D), (5, D + timedelta(minutes=10))],
            )
        )
    yield runtime
    runtime.close()


def report(runtime: Runtime, by: str) -> dict[str, tuple[Decimal, Decimal, Decimal | None]]:
    rng = ReportRange(DAY - timedelta(days=1), DAY + timedelta(days=1))
    with runtime.sessions() as s:
        rows = source_report(s, rng, by=by)["rows"]
    return {r["group"]: (r["revenue"], r["spend"], r["kpis"]["roi"]) for r in rows}


def test_resolved_clicks_put_revenue_on_their_campaigns_spend_row(
    world: Runtime, google: GoogleAdsApiServer
) -> None:
    results = pull_spend(world, DAY, DAY)
    assert results["google_ads"]["clicks"] == {"asked": 3, "resolved": 2}
    d = Decimal
    assert report(world, "campaign") == {
        "Brand search": (d("1000.00"), d("100.00"), d("9")),
        "Remarketing": (d("500.00"), d("40.00"), d("11.5")),
        "(not set)": (d("300.00"), d("0.00"), None),
        "digest": (d("50.00"), d("0.00"), None),
    }
    assert report(world, "keyword") == {
        "acme": (d("1000.00"), d("100.00"), d("9")),
        "(not set)": (d("850.00"), d("40.00"), d("20.25")),
    }
    # Display spend and the Display click's revenue are both "Display", not "Paid Search".
    assert report(world, "channel") == {
        "Paid Search": (d("1300.00"), d("100.00"), d("12")),
        "Display": (d("500.00"), d("40.00"), d("11.5")),
        "Email": (d("50.00"), d("0.00"), None),
        "Direct": (d("0.00"), d("0.00"), None),  # t6's visit: no revenue
    }
    with world.sessions() as s:
        linked = dict(s.execute(select(Touchpoint.id, Touchpoint.click_resolution_id)).all())
    # The Google session's pages (t1, t5) share the click; the later direct session does not.
    assert linked[1] is not None and linked[5] == linked[1]
    assert linked[6] is None and linked[7] is None and linked[4] is None


def test_a_resolved_click_is_not_asked_again_nor_an_unknown_old_one(
    world: Runtime, google: GoogleAdsApiServer
) -> None:
    pull_spend(world, DAY, DAY)
    first = google.requests_by_method["SearchStream"]
    again = pull_spend(world, DAY, DAY)
    # Only the three spend queries: gclid-unknown was asked 5 days after its click, past
    # the 3 days Google may still be catching up, so it costs no click_view query any more.
    assert again["google_ads"]["clicks"] == {"asked": 0, "resolved": 0}
    assert google.requests_by_method["SearchStream"] - first == 3
    with world.sessions() as s:
        stored = {
            r.touchpoint_id: (r.resolved, r.campaign_id, r.keyword_id, r.match_type, r.channel)
            for r in s.scalars(select(ClickResolution))
        }
    assert stored == {
        1: (True, "11", "31", "EXACT", "Paid Search"),
        2: (True, "12", "", None, "Display"),
        3: (False, "", "", None, None),
    }


def test_a_renamed_campaign_keeps_one_row(world: Runtime, google: GoogleAdsApiServer) -> None:
    """Names follow the IDs: after a rename, old clicks and old spend take the new name."""
    pull_spend(world, DAY, DAY)
    google._spend[0].campaign = "Brand search (new)"  # Google reports current names only
    pull_spend(world, DAY + timedelta(days=1), DAY + timedelta(days=1))  # no rows that day
    assert "Brand search" in report(world, "campaign")  # nothing pulled names the campaign
    google.add_spend(
        DAY + timedelta(days=1),
        campaign_id="11",
        campaign="Brand search (new)",
        cost="5",
        ad_group_id="21",
        ad_group="Brand",
        keyword_id="31",
        keyword="acme",
    )
    pull_spend(world, DAY + timedelta(days=1), DAY + timedelta(days=1))
    rows = report(world, "campaign")
    assert "Brand search" not in rows
    assert rows["Brand search (new)"][:2] == (Decimal("1000.00"), Decimal("105.00"))


def test_forgetting_a_click_forgets_its_resolution(world: Runtime) -> None:
    """Erasure deletes click IDs; their resolutions go with them (ON DELETE CASCADE)."""
    pull_spend(world, DAY, DAY)
    with world.sessions.begin() as s:
        s.execute(ClickId.__table__.delete().where(ClickId.touchpoint_id == 1))
    with world.sessions() as s:
        left = sorted(r.touchpoint_id for r in s.scalars(select(ClickResolution)))
    assert left == [2, 3]


class HalfDeclared:
    """A spend source that names click kinds but cannot resolve them."""

    name = "half"
    click_kinds = ("gclid",)


def test_a_source_declaring_click_kinds_without_a_resolver_is_refused(world: Runtime) -> None:
    from connector.clicks import resolve_clicks

    answer = resolve_clicks(world, HalfDeclared())
    assert "click_days_kept" in answer["skipped"] and "resolve_clicks" in answer["skipped"]
    with world.sessions() as s:
        assert s.scalars(select(ClickResolution)).all() == []
