"""The delivery view nets out retractions and restatements and lists what was never sent.

Hand-computed fixture, November 2026, USD (GBP at 1.20):

| row | platform   | conversion        | adjustments (accepted unless said)      | holds now |
| --- | ---------- | ----------------- | --------------------------------------- | --------- |
| A1  | google_ads | 1,000 USD accepted | retraction                             | 0         |
| A2  | google_ads | 600 USD accepted  | restated to 450, then to 400            | 400       |
| A3  | google_ads | 500 GBP accepted  | restatement to 100 GBP still pending    | 600       |
| A4  | google_ads | 200 USD accepted  | retraction still pending                | 200       |
| M1  | meta       | 300 USD accepted  | —                                       | 300       |

Google Ads: gross accepted 4 / 2,400; retracted 1 / 1,000; restated 1 (change 400 - 600 =
-200); net 3 / 1,200 (= 400 + 600 + 200). Adjustment rows: retraction accepted 1, pending 1;
restatement accepted 2, pending 1. Meta: gross = net = 1 / 300.
Not planned (``not_planned`` rows): Meta 2 x older than 7 days, GA4 1 x contacts never
tracked and 1 x no eligible identifier; an October one is outside the range.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connector.demo.not_sent import platform_account
from connector.reports import ReportRange, delivery_report
from connector.storage.models import Conversion, NotPlanned, utcnow

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
FX = {"GBP": Decimal("1.20")}
WHEN = datetime(2026, 11, 10, 9, tzinfo=UTC)
TOO_OLD = "conversion older than Meta's 7-day limit"


def _row(key, destination, kind, status, value, currency="USD", adjusts=None, at=WHEN):
    return Conversion(
        deal_id=key.split("-")[0],
        destination=destination,
        kind=kind,
        event_name="purchase",
        dedup_key=key,
        adjusts_key=adjusts,
        value=Decimal(value),
        currency=currency,
        event_time=at,
        status=status,
    )


@pytest.fixture
def adjusted(runtime):
    rows = [
        _row("A1-won", "google_ads", "conversion", "accepted", "1000"),
        _row("A1-won-rt1", "google_ads", "retraction", "accepted", "1000", adjusts="A1-won"),
        _row("A2-won", "google_ads", "conversion", "accepted", "600"),
        _row("A2-won-rs1", "google_ads", "restatement", "accepted", "450", adjusts="A2-won"),
        _row("A2-won-rs2", "google_ads", "restatement", "accepted", "400", adjusts="A2-won"),
        _row("A3-won", "google_ads", "conversion", "accepted", "500", currency="GBP"),
        _row("A3-won-rs1", "google_ads", "restatement", "pending", "100", "GBP", "A3-won"),
        _row("A4-won", "google_ads", "conversion", "accepted", "200"),
        _row("A4-won-rt1", "google_ads", "retraction", "pending", "200", adjusts="A4-won"),
        _row("M1-won", "meta", "conversion", "accepted", "300"),
    ]
    never = [
        ("D5", "meta", TOO_OLD, WHEN),
        ("D6", "meta", TOO_OLD, WHEN),
        ("D7", "ga4", "contacts never tracked", WHEN),
        ("D8", "ga4", "no eligible identifier", WHEN),
        ("D9", "ga4", "contacts never tracked", datetime(2026, 10, 30, tzinfo=UTC)),
    ]
    with runtime.sessions.begin() as session:
        session.add_all(rows)
        session.add_all(
            NotPlanned(
                deal_id=d,
                destination=dest,
                what="closed_won",
                reason=reason,
                event_time=at,
                updated_at=utcnow(),
            )
            for d, dest, reason, at in never
        )
    return runtime


def _report(runtime):
    with runtime.sessions() as session:
        return delivery_report(session, NOV, currency="USD", fx_rates=FX)["platforms"]


def test_retracted_and_restated_conversions_are_netted(adjusted):
    """Google Ads holds 3 conversions worth 1,200, not the 4 worth 2,400 it once accepted."""
    google = _report(adjusted)["google_ads"]
    assert google["by_status"]["accepted"] == {"conversions": 4, "value": Decimal("2400.00")}
    assert google["retracted"] == {"conversions": 1, "value": Decimal("1000.00")}
    assert google["restated"] == {"conversions": 1, "value_change": Decimal("-200.00")}
    assert google["net"] == {"conversions": 3, "value": Decimal("1200.00")}
    assert google["adjustments"] == {
        "retraction": {"accepted": 1, "pending": 1},
        "restatement": {"accepted": 2, "pending": 1},
    }


def test_a_platform_without_adjustments_nets_to_its_accepted(adjusted):
    """Meta: nothing taken back, so net equals accepted."""
    meta = _report(adjusted)["meta"]
    assert meta["net"] == {"conversions": 1, "value": Decimal("300.00")}
    assert meta["retracted"] == {"conversions": 0, "value": Decimal("0.00")}


def test_not_planned_reasons_are_listed_with_counts(adjusted):
    """What was never sent, per platform and why, in the range only, most frequent first."""
    report = _report(adjusted)
    assert report["meta"]["not_planned"] == [{"what": "closed_won", "reason": TOO_OLD, "count": 2}]
    assert report["ga4"]["not_planned"] == [
        {"what": "closed_won", "reason": "contacts never tracked", "count": 1},
        {"what": "closed_won", "reason": "no eligible identifier", "count": 1},
    ]
    assert report["google_ads"]["not_planned"] == []


def test_the_demo_prints_what_each_platform_holds_and_what_was_not_sent(adjusted):
    """The demo's closing lines: net holdings and every not-sent reason with its count."""
    with adjusted.sessions() as session:
        report = delivery_report(session, NOV, currency="USD", fx_rates=FX)
    lines = platform_account(report, ("google_ads", "ga4", "meta"))
    assert lines[:2] == ["", "What each platform holds, and what was not sent and why:"]
    assert lines[2:] == [
        "  google_ads holds 3 worth 1,200.00 (accepted 4, retracted 1, restated 1)",
        "             everything planned was sent",
        "  ga4        holds 0 worth 0.00 (accepted 0, retracted 0, restated 0)",
        "                1 x not planned (closed_won): contacts never tracked",
        "                1 x not planned (closed_won): no eligible identifier",
        "  meta       holds 1 worth 300.00 (accepted 1, retracted 0, restated 0)",
        f"                2 x not planned (closed_won): {TOO_OLD}",
    ]
