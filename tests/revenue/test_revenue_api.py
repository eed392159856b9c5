"""POST /revenue at the door: who may post, what a bad body is told, what is stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from connector.revenue.signature import HEADER, sign
from connector.storage.models import RevenueSale
from tests.revenue.conftest import SECRET, sale


def stored(runtime) -> int:
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(RevenueSale))


def test_the_trigger_token_is_required_without_a_signature(post, revenue_runtime):
    """No credentials, or the wrong token: 401, nothing stored."""
    assert post(sale(), headers={}).status_code == 401
    assert post(sale(), headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert stored(revenue_runtime) == 0


def test_a_body_signed_with_the_source_secret_is_taken(post, revenue_runtime):
    """HMAC-SHA256 of the raw body under revenue.sources.shop.secret; the source is shop's."""
    answer = post.signed(sale("S-1"))
    assert answer.status_code == 202, answer.get_json()
    (result,) = answer.get_json()["sales"]
    assert result["source"] == "shop" and result["result"] == "stored"


def test_the_signature_is_the_hmac_of_the_raw_body(post):
    """Computed independently of our code: hmac.new(secret, body, sha256).hexdigest()."""
    import hashlib
    import hmac

    raw = json.dumps(sale("S-2")).encode()
    header = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert sign(SECRET, raw) == header
    answer = post.client.post(
        "/revenue",
        data=raw,
        content_type="application/json",
        headers={HEADER: header.upper().replace("SHA256=", "sha256=")},
        query_string={"source": "shop"},
    )
    assert answer.status_code == 202


@pytest.mark.parametrize(
    ("secret", "source", "status", "error"),
    [
        ("not-the-secret", "shop", 401, "bad_signature"),
        (SECRET, "other", 403, "not_configured"),  # no secret configured for that source
    ],
)
def test_a_wrong_signature_or_unconfigured_source_is_refused(
    post, revenue_runtime, secret, source, status, error
):
    answer = post.signed(sale(), secret=secret, source=source)
    assert answer.status_code == status and answer.get_json()["error"] == error
    assert stored(revenue_runtime) == 0


def test_a_tampered_body_fails_its_signature(post, revenue_runtime):
    """The signature of one body does not carry over to another."""
    raw = json.dumps(sale(value="10")).encode()
    tampered = json.dumps(sale(value="10000")).encode()
    answer = post.client.post(
        "/revenue",
        data=tampered,
        content_type="application/json",
        headers={HEADER: sign(SECRET, raw)},
        query_string={"source": "shop"},
    )
    assert answer.status_code == 401 and stored(revenue_runtime) == 0


def test_a_signed_sale_cannot_speak_for_another_source(post, revenue_runtime):
    answer = post.signed(sale(source="crm"))
    assert answer.status_code == 400
    assert answer.get_json()["detail"] == [
        {"field": "source", "message": "the signature is 'shop''s"}
    ]


def test_a_signature_needs_the_source_named(post):
    raw = json.dumps(sale()).encode()
    answer = post.client.post(
        "/revenue", data=raw, content_type="application/json", headers={HEADER: sign(SECRET, raw)}
    )
    assert answer.status_code == 400 and answer.get_json()["detail"][0]["field"] == "source"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_id": None}, "order_id"),
        ({"order_id": "has space"}, "order_id"),
        ({"order_id": "x" * 41}, "order_id"),
        ({"value": "ten"}, "value"),
        ({"value": -5}, "value"),
        ({"value": "NaN"}, "value"),
        ({"value": True}, "value"),
        ({"value": 1e20}, "value"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": "XYZ"}, "currency"),
        ({"time": "yesterday"}, "time"),
        ({"time": None}, "time"),
        ({"source": "Bad Name"}, "source"),
        ({"email": "no-at-sign"}, "email"),
        ({"visitor_id": "short"}, "visitor_id"),
        ({"click_ids": {"msclkid": "x"}}, "click_ids"),
        ({"click_ids": ["G-1"]}, "click_ids"),
        ({"status": "paid"}, "status"),
        ({"amount": 5}, "amount"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_stored(post, revenue_runtime, change, field):
    body = {k: v for k, v in {**sale(), **change}.items() if v is not None}
    answer = post(body)
    assert answer.status_code == 400, answer.get_json()
    payload = answer.get_json()
    assert payload["error"] == "invalid_request"
    assert [e["field"] for e in payload["detail"]] == [field]
    assert stored(revenue_runtime) == 0


def test_every_bad_field_of_every_sale_is_named(post, revenue_runtime):
    answer = post([{"order_id": "1", "value": "x"}, "not a sale"])
    assert answer.status_code == 400
    fields = [e["field"] for e in answer.get_json()["detail"]]
    assert fields == ["[0].value", "[0].currency", "[0].time", "[1]"]


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[" * 100_000, "application/json"),
        (b"[]", "application/json"),
        (b"42", "application/json"),
        (b"", "application/json"),
    ],
)
def test_a_body_that_is_no_sale_is_a_400(post, raw, content_type):
    answer = post.client.post(
        "/revenue",
        data=raw,
        content_type=content_type,
        headers={"Authorization": "Bearer test-trigger-token"},
    )
    assert answer.status_code in (400, 413), answer.get_json()
    assert answer.get_json()["error"] in (
        "invalid_json",
        "invalid_request",
        "request_entity_too_large",
    )


def test_good_sales_are_stored_and_bad_ones_named_in_one_call(post, revenue_runtime):
    """All or nothing per sale: the good one is stored, the bad one named in the 202 body."""
    answer = post([sale("G-1"), {**sale("B-1"), "currency": "??"}])
    assert answer.status_code == 202
    body = answer.get_json()
    assert (body["stored"], body["rejected"]) == (1, 1)
    assert body["sales"][1] == {
        "result": "rejected",
        "errors": [{"field": "[1].currency", "message": "must be an ISO 4217 currency code"}],
        "order_id": "B-1",
    }
    assert stored(revenue_runtime) == 1


def test_a_repeat_changes_nothing_and_a_change_is_an_update(post, revenue_runtime):
    """Only a change moves the time the sync pages on; the same amount respelled is no change."""
    body = sale("R-1", "100")
    assert post(body).get_json()["stored"] == 1

    def modified():
        with revenue_runtime.sessions() as session:
            return session.get(RevenueSale, "revenue:webhook:~" + _hash("R-1")).modified_at

    first = modified()
    assert post({**body, "value": 100.0}).get_json()["unchanged"] == 1
    assert modified() == first
    assert post({**body, "value": "120"}).get_json()["updated"] == 1
    assert modified() > first


def _hash(order_id: str) -> str:
    import hashlib

    return hashlib.sha256(order_id.encode()).hexdigest()[:32]


def test_the_same_order_twice_in_one_body_is_refused(post):
    answer = post([sale("D-1"), sale("D-1", "5")])
    body = answer.get_json()
    assert answer.status_code == 202 and body["sales"][1]["errors"] == [
        {"field": "[1].order_id", "message": "repeated in this body"}
    ]


def test_order_ids_that_dedup_keys_would_merge_stay_apart(post, run, revenue_runtime):
    """A-1 and A_1 are different orders: different deals, different dedup keys."""
    answer = post([sale("A-1"), sale("A_1")])
    ids = [r["deal_id"] for r in answer.get_json()["sales"]]
    assert ids[1] == "revenue:webhook:A_1" and ids[0].startswith("revenue:webhook:~")
    run()
    from tests.revenue.conftest import outbox

    keys = {r.dedup_key for r in outbox(revenue_runtime) if r.destination == "google_ads"}
    assert len(keys) == 2
