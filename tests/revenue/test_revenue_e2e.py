"""Sales posted to /revenue reach Google, GA4 and Meta once, restate, retract, and report."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from connector.storage.models import Deal
from tests.revenue.conftest import journey, outbox, sale


def test_a_sale_reaches_google_ga4_and_meta_exactly_once(post, run, revenue_runtime, sandboxes):
    """One posted sale of a tracked buyer: one accepted conversion per platform, none again."""
    journey(revenue_runtime, "ann@example.com")
    body = sale("1001", "250.00")
    answer = post(body)
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["sales"] == [
        {
            "result": "stored",
            "order_id": "1001",
            "source": "webhook",
            "deal_id": "revenue:webhook:1001",
        }
    ]
    assert run() == "succeeded", run.last
    assert run.last["counts"]["conversions_planned"] == 3
    google = sandboxes["google_ads"].accepted
    assert [(g["transaction_id"], g["value"]) for g in google] == [
        ("cl-revenue_webhook_1001-closed_won", 250.0)
    ]
    assert google[0]["gclid"] == "G-SHOP-1"
    assert len(sandboxes["ga4"].accepted) == 1 and len(sandboxes["meta"].accepted) == 1
    # The same body again: nothing stored, nothing planned, nothing sent.
    again = post(body)
    assert again.status_code == 202 and again.get_json()["unchanged"] == 1
    assert run() == "succeeded"
    assert run.last["counts"]["conversions_planned"] == 0
    assert len(sandboxes["google_ads"].accepted) == 1
    assert len(sandboxes["ga4"].accepted) == 1 and len(sandboxes["meta"].accepted) == 1


def test_a_changed_amount_restates_at_google_only(post, run, revenue_runtime, sandboxes):
    """Value 250 → 400 for the same order: a restatement Google applies, nothing for the rest."""
    journey(revenue_runtime, "ann@example.com")
    body = sale("1002", "250")
    post(body)
    run()
    answer = post({**body, "value": 400})
    assert answer.get_json()["updated"] == 1
    assert run() == "succeeded", run.last
    assert run.last["counts"]["restatements_planned"] == 1
    restated = [r for r in outbox(revenue_runtime) if r.kind == "restatement"]
    assert [(r.destination, r.value, r.status) for r in restated] == [
        ("google_ads", Decimal("400.0000"), "accepted")
    ]
    (kept,) = sandboxes["google_ads"].accepted
    assert kept["restated"] is True and kept["value"] == 400.0
    assert len(sandboxes["ga4"].accepted) == 1 and len(sandboxes["meta"].accepted) == 1


def test_a_refund_retracts_at_google(post, run, revenue_runtime, sandboxes):
    """A refund retracts the Google conversion; GA4 and Meta cannot, so they get nothing."""
    journey(revenue_runtime, "ann@example.com")
    body = sale("1003", "99.90", source="shop")
    post(body)
    run()
    assert post({**body, "status": "refunded"}).get_json()["updated"] == 1
    assert run() == "succeeded", run.last
    assert run.last["counts"]["retractions_planned"] == 1
    retracted = [r for r in outbox(revenue_runtime) if r.kind == "retraction"]
    assert [(r.destination, r.status) for r in retracted] == [("google_ads", "accepted")]
    (kept,) = sandboxes["google_ads"].accepted
    assert kept["retracted"] is True
    with revenue_runtime.sessions() as session:
        deal = session.get(Deal, "revenue:shop:1003")
        assert deal is not None and not deal.is_won and deal.sent_amount is None


def test_the_sale_is_a_deal_of_its_source_with_its_channel(post, run, revenue_runtime):
    """Reports read deals: the sale is one in the pipeline revenue:<source>, credited to its ad."""
    journey(revenue_runtime, "ann@example.com")
    post(sale("1004", "10", source="shop"))
    run()
    with revenue_runtime.sessions() as session:
        deal = session.scalars(select(Deal)).one()
    assert deal.id == "revenue:shop:1004" and deal.pipeline == "revenue:shop"
    assert deal.is_won and deal.amount == Decimal("10.0000") and deal.currency == "EUR"
    assert deal.match_status == "matched"
    assert (deal.last_touch_channel, deal.last_touch_source) == ("Paid Search", "google")


def test_a_buyer_found_by_visitor_id_or_click_id_alone(post, run, revenue_runtime, sandboxes):
    """No email: the visitor ID finds the journey; a bare gclid is enough for Google."""
    vid = journey(revenue_runtime, "bob@example.com", gclid="G-BOB")
    post(
        [
            {**sale("2001"), "email": None, "visitor_id": vid},
            {**sale("2002"), "email": None, "click_ids": {"gclid": "G-BOB"}},
        ]
    )
    assert run() == "succeeded", run.last
    google = {g["transaction_id"]: g for g in sandboxes["google_ads"].accepted}
    assert set(google) == {
        "cl-revenue_webhook_2001-closed_won",
        "cl-revenue_webhook_2002-closed_won",
    }
    assert {g["gclid"] for g in google.values()} == {"G-BOB"}


def test_an_untracked_buyer_is_matched_by_nothing_but_the_email(
    post, run, revenue_runtime, sandboxes
):
    """A buyer the snippet never saw: Google still takes the hashed email, GA4 has no client."""
    post(sale("3001", email="nobody@example.com"))
    assert run() == "succeeded"
    (google,) = sandboxes["google_ads"].accepted
    assert google["transaction_id"] == "cl-revenue_webhook_3001-closed_won"
    assert google.get("gclid") is None
    assert sandboxes["ga4"].accepted == []
    assert run.last["summary"]["revenue"]["not_planned"]["ga4"] == {"no eligible identifier": 1}
    with revenue_runtime.sessions() as session:
        assert session.get(Deal, "revenue:webhook:3001").match_status == "contact_never_tracked"


def test_the_source_report_credits_the_sale_to_its_channel(post, run, revenue_runtime):
    """The sale's revenue shows in the source report under the channel of its click."""
    from datetime import timedelta

    from connector.reports.sources import ReportRange, source_report
    from connector.storage.models import utcnow

    journey(revenue_runtime, "ann@example.com")
    post(sale("5001", "300", source="shop"))
    run()
    today = utcnow().date()
    with revenue_runtime.sessions() as session:
        data = source_report(
            session,
            ReportRange(today - timedelta(days=7), today),
            currency="EUR",
            fx_rates={},
        )
    rows = {r["group"]: r for r in data["rows"]}
    assert rows["Paid Search"]["won_deals"] == 1
    assert rows["Paid Search"]["revenue"] == Decimal("300")


def test_the_opportunity_report_lists_a_source_with_its_stages(post, run, revenue_runtime):
    """Each source is a pipeline whose stages (sale, refunded, cancelled) the report names."""
    from datetime import timedelta

    from connector.reports.opportunities import opportunity_report
    from connector.reports.sources import ReportRange
    from connector.storage.models import utcnow

    journey(revenue_runtime, "ann@example.com")
    post([sale("6001", source="shop"), sale("6002", source="shop", status="cancelled")])
    run()
    today = utcnow().date()
    with revenue_runtime.sessions() as session:
        data = opportunity_report(
            session, ReportRange(today - timedelta(days=7), today), touch="last"
        )
    shop = [s for s in data["stages"] if s["pipeline"] == "revenue:shop"]
    assert [(s["label"], s["is_won"]) for s in shop] == [
        ("Sale", True),
        ("Refunded", False),
        ("Cancelled", False),
    ]
    (row,) = data["rows"]
    current = {s["label"]: s["current"] for s in row["stages"]}
    assert row["group"] == "Paid Search" and (current["Sale"], current["Cancelled"]) == (1, 1)


def test_a_buyer_known_only_by_phone_reaches_google_with_the_hashed_number(
    post, run, revenue_runtime, sandboxes
):
    """Google's rule: the E.164 number, SHA-256 hex (computed here, not by our code)."""
    import hashlib

    post({**sale("9001"), "email": None, "phone": "+33 6 12 34 56 78"})
    assert run() == "succeeded"
    (row,) = [r for r in outbox(revenue_runtime) if r.destination == "google_ads"]
    assert row.identifiers["phone_sha256"] == [hashlib.sha256(b"+33612345678").hexdigest()]
    assert row.status == "accepted"
