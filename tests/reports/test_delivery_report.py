"""The delivery report against a hand-computed outbox fixture (SQLite and PostgreSQL).

Won in November 2026 (USD, GBP at 1.20): D1 1,000 USD (journey), D2 500 GBP = 600 USD
(journey), D3 300 USD (no journey): won revenue 1,900; matched to a journey 1,600 (84.21 %).

| platform   | D1 (Nov 10)       | D2 (Nov 12)                | D3 (Nov 15) |
| ---------- | ----------------- | -------------------------- | ----------- |
| google_ads | accepted          | skipped NO_CLICK_ID        | —           |
| meta       | accepted          | rejected INVALID_FBC       | pending     |
| ga4        | dead HTTP_503     | —                          | —           |

Plus rows that must not count: a Google Ads adjustment of D1, and a Meta conversion of an
October event. Per-platform match rate = revenue of won deals the platform got a non-skipped
conversion for ÷ won revenue: Google Ads 1,000/1,900, Meta 1,900/1,900, GA4 1,000/1,900.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connector.reports import ReportRange, delivery_report
from connector.storage.models import Conversion, Deal

NOV = ReportRange(date(2026, 11, 1), date(2026, 11, 30))
FX = {"GBP": Decimal("1.20")}


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, tzinfo=UTC)


@pytest.fixture
def outbox_db(runtime):
    deals = [
        ("D1", "1000", "USD", 10, "matched"),
        ("D2", "500", "GBP", 12, "matched"),
        ("D3", "300", "USD", 15, "no_journey"),
        ("D9", "999", "USD", 30, "matched"),
    ]
    rows = [
        ("D1", "google_ads", "conversion", "accepted", None, (11, 10)),
        ("D2", "google_ads", "conversion", "skipped", "NO_CLICK_ID", (11, 12)),
        ("D1", "google_ads", "adjustment", "rejected", "TOO_RECENT", (11, 10)),
        ("D1", "meta", "conversion", "accepted", None, (11, 10)),
        ("D2", "meta", "conversion", "rejected", "INVALID_FBC", (11, 12)),
        ("D3", "meta", "conversion", "pending", None, (11, 15)),
        ("D9", "meta", "conversion", "accepted", None, (10, 30)),
        ("D1", "ga4", "conversion", "dead", "HTTP_503", (11, 10)),
    ]
    with runtime.sessions.begin() as s:
        for deal_id, amount, currency, day, match in deals:
            month = 10 if deal_id == "D9" else 11
            s.add(
                Deal(
                    id=deal_id,
                    amount=Decimal(amount),
                    currency=currency,
                    is_won=True,
                    is_closed=True,
                    close_time=at(month, day),
                    created_time=at(month, 1),
                    match_status=match,
                )
            )
        amounts = {d[0]: (Decimal(d[1]), d[2]) for d in deals}
        for i, (deal_id, dest, kind, status, code, (month, day)) in enumerate(rows):
            value, currency = amounts[deal_id]
            s.add(
                Conversion(
                    deal_id=deal_id,
                    destination=dest,
                    kind=kind,
                    event_name="purchase",
                    dedup_key=f"k{i}",
                    value=value,
                    currency=currency,
                    event_time=at(month, day),
                    status=status,
                    reason_code=code,
                    reason=f"{code.lower()} explained" if code else None,
                )
            )
    with runtime.sessions() as s:
        return delivery_report(s, NOV, currency="USD", fx_rates=FX)


def counts(platform: dict) -> dict[str, tuple[int, Decimal]]:
    return {
        status: (slot["conversions"], slot["value"])
        for status, slot in platform["by_status"].items()
        if slot["conversions"]
    }


def test_status_counts_and_values_per_platform(outbox_db):
    """Each platform's conversions and value by status, in the reporting currency."""
    platforms = outbox_db["platforms"]
    assert sorted(platforms) == ["ga4", "google_ads", "meta"]
    assert counts(platforms["google_ads"]) == {
        "accepted": (1, Decimal("1000.00")),
        "skipped": (1, Decimal("600.00")),
    }
    assert counts(platforms["meta"]) == {
        "accepted": (1, Decimal("1000.00")),
        "rejected": (1, Decimal("600.00")),
        "pending": (1, Decimal("300.00")),
    }
    assert counts(platforms["ga4"]) == {"dead": (1, Decimal("1000.00"))}


def test_reasons_are_grouped_with_an_example(outbox_db):
    """Reasons list status, code, an example message and a count; adjustments stay out."""
    platforms = outbox_db["platforms"]
    assert platforms["google_ads"]["reasons"] == [
        {"status": "skipped", "code": "NO_CLICK_ID", "example": "no_click_id explained", "count": 1}
    ]
    assert [(r["status"], r["code"]) for r in platforms["meta"]["reasons"]] == [
        ("rejected", "INVALID_FBC")
    ]
    assert platforms["ga4"]["reasons"][0]["code"] == "HTTP_503"


def test_match_rates(outbox_db):
    """Journey match rate and per-platform match rate (skipped conversions do not count)."""
    assert outbox_db["won_revenue"] == Decimal("1900.00")
    assert outbox_db["journey_match_rate"] == Decimal("0.8421")
    platforms = outbox_db["platforms"]
    assert platforms["google_ads"]["revenue_with_identifier"] == Decimal("1000.00")
    assert platforms["google_ads"]["match_rate"] == Decimal("0.5263")
    assert platforms["meta"]["match_rate"] == Decimal("1")
    assert platforms["ga4"]["match_rate"] == Decimal("0.5263")


def test_by_day_counts_statuses_per_utc_day(outbox_db):
    """Daily counts per status, keyed by the UTC day of the event."""
    google = outbox_db["platforms"]["google_ads"]["by_day"]
    assert list(google) == ["2026-11-10", "2026-11-12"]
    assert google["2026-11-10"]["accepted"] == 1 and google["2026-11-10"]["rejected"] == 0
    assert google["2026-11-12"]["skipped"] == 1
    assert outbox_db["platforms"]["meta"]["by_day"]["2026-11-15"]["pending"] == 1


def test_confirming_rows_and_an_accepted_rows_warning(runtime):
    """Rows awaiting the platform's verdict count as confirming; an accepted row's warning shows.

    Every day lists ``confirming``; Google's PARTIAL_SUCCESS on an accepted row is a reason.
    """
    with runtime.sessions.begin() as s:
        s.add(
            Deal(
                id="D1",
                amount=Decimal("100"),
                currency="USD",
                is_won=True,
                is_closed=True,
                close_time=at(11, 10),
                created_time=at(11, 1),
                match_status="matched",
            )
        )
        for key, status, code in (
            ("k1", "confirming", None),
            ("k2", "confirming", None),
            ("k3", "accepted", "PARTIAL_SUCCESS"),
        ):
            s.add(
                Conversion(
                    deal_id="D1",
                    destination="google_ads",
                    kind="conversion",
                    event_name="purchase",
                    dedup_key=key,
                    value=Decimal("100"),
                    currency="USD",
                    event_time=at(11, 10),
                    status=status,
                    reason_code=code,
                    reason="2 of 5 events failed" if code else None,
                )
            )
    with runtime.sessions() as s:
        google = delivery_report(s, NOV, currency="USD")["platforms"]["google_ads"]
    assert counts(google) == {
        "accepted": (1, Decimal("100.00")),
        "confirming": (2, Decimal("200.00")),
    }
    assert google["by_day"]["2026-11-10"]["confirming"] == 2
    assert google["reasons"] == [
        {
            "status": "accepted",
            "code": "PARTIAL_SUCCESS",
            "example": "2 of 5 events failed",
            "count": 1,
        }
    ]
