"""A privacy request reaches posted sales: the buyer leaves them, nothing is sent again."""

from __future__ import annotations

from connector.storage.models import RevenueSale
from connector.tracking.forget import erase
from tests.revenue.conftest import TOKEN, journey, outbox, sale


def test_forget_by_email_strips_the_buyer_from_sales_and_their_outbox_rows(
    post, run, revenue_runtime, sandboxes
):
    journey(revenue_runtime, "ann@example.com")
    body = sale("8001", phone="+33612345678", click_ids={"gclid": "G-SHOP-1"})
    post(body)
    post(sale("8002", email="someone.else@example.com"))
    run()
    report = erase(revenue_runtime, email="ann@example.com")
    assert report["removed"]["revenue_sales"] == 1
    with revenue_runtime.sessions() as session:
        mine = session.get(RevenueSale, "revenue:webhook:8001")
        other = session.get(RevenueSale, "revenue:webhook:8002")
        assert set(mine.sale) == {"order_id", "value", "currency", "time", "source"}
        assert mine.email_sha256 is None and other.sale["email"] == "someone.else@example.com"
    for row in outbox(revenue_runtime):
        if row.deal_id == "revenue:webhook:8001":
            assert not row.identifiers.get("email_sha256"), row.destination
            assert not row.identifiers.get("gclid"), row.destination
    # The same body again brings nothing back and sends nothing.
    assert post(body).get_json()["unchanged"] == 1
    before = len(sandboxes["google_ads"].accepted)
    run()
    assert run.last["counts"]["conversions_planned"] == 0
    assert len(sandboxes["google_ads"].accepted) == before


def test_forget_by_visitor_id_finds_sales_bought_under_it(post, revenue_client, revenue_runtime):
    vid = journey(revenue_runtime, "bob@example.com")
    post({**sale("8101"), "email": None, "visitor_id": vid})
    answer = revenue_client.post("/privacy/forget", json={"visitor_id": vid}, headers=TOKEN)
    assert answer.status_code == 200 and answer.get_json()["removed"]["revenue_sales"] == 1
    with revenue_runtime.sessions() as session:
        assert "visitor_id" not in session.get(RevenueSale, "revenue:webhook:8101").sale
