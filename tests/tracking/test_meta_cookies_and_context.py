"""/collect: Meta's cookies renewed and checked server side, consent updates, the client's IP."""

from __future__ import annotations

from datetime import UTC, datetime

from capi_param_builder import ParamBuilder
from sqlalchemy import func, select

from connector.storage.models import ConsentUpdate, Touchpoint, Visitor

VISITOR = "v-0123456789abcdef"
MARCH_MS = int(datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp() * 1000)


def _visitor(runtime) -> Visitor:
    with runtime.sessions() as session:
        return session.get(Visitor, VISITOR)


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def test_new_fbclid_replaces_the_old_fbc_server_side(client, runtime, page_view):
    """A hit whose fbclid differs from the _fbc it carries stores fb.1.<hit ms>.<new fbclid>."""
    ts = _ms(datetime.now(UTC)) - 1000
    body = page_view(
        url="https://shop.example/landing?fbclid=IwAR-June",
        fbc=f"fb.1.{MARCH_MS}.IwAR-March",
        ts=ts,
    )
    assert client.post("/collect", json=body).status_code == 204
    assert _visitor(runtime).fbc == f"fb.1.{ts}.IwAR-June"
    with runtime.sessions() as session:
        assert session.scalars(select(Touchpoint.fbc)).one() == f"fb.1.{ts}.IwAR-June"


def test_same_fbclid_keeps_the_cookie_as_it_is(client, runtime, page_view):
    """A cookie already carrying the URL's fbclid keeps its first-seen time and appendix."""
    cookie = f"fb.2.{MARCH_MS}.IwAR-March.AQICAQMC"
    body = page_view(url="https://shop.example/?fbclid=IwAR-March", fbc=cookie)
    assert client.post("/collect", json=body).status_code == 204
    assert _visitor(runtime).fbc == cookie


def test_builder_cookies_are_stored_as_they_are(client, runtime, page_view):
    """_fbp/_fbc written by Meta's parameter builder (with appendix) are stored unchanged."""
    builder = ParamBuilder(["shop.example"])
    builder.process_request("shop.example", {"fbclid": ["IwAR-b"]}, {})
    body = page_view(
        url="https://shop.example/?fbclid=IwAR-b", fbc=builder.get_fbc(), fbp=builder.get_fbp()
    )
    assert client.post("/collect", json=body).status_code == 204
    visitor = _visitor(runtime)
    assert (visitor.fbc, visitor.fbp) == (builder.get_fbc(), builder.get_fbp())


def test_malformed_cookies_dropped_and_counted_page_view_kept(client, runtime, page_view):
    """A broken _fbc/_fbp costs neither the page view nor a 4xx/5xx; /metrics counts it."""
    body = page_view(fbc="fb.1.<script>", fbp="fb.1.123 4.abc\u00e9")
    assert client.post("/collect", json=body).status_code == 204
    assert client.post("/collect", json=page_view(fbp="garbage")).status_code == 204
    visitor = _visitor(runtime)
    assert (visitor.fbc, visitor.fbp) == (None, None)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Touchpoint)) == 2
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'closedloop_tracking_dropped{reason="malformed_fbc"} 1.0' in metrics
    assert 'closedloop_tracking_dropped{reason="malformed_fbp"} 2.0' in metrics


def test_consent_update_is_recorded_not_a_page_view(client, runtime, page_view):
    """event=consent stores a timed consent update and the visitor's state, no touchpoint."""
    assert client.post("/collect", json=page_view(consent={"ad_user_data": False})).status_code
    update = page_view(event="consent", consent={"ad_user_data": True, "ad_personalization": True})
    assert client.post("/collect", json=update).status_code == 204
    with runtime.sessions() as session:
        [row] = session.scalars(select(ConsentUpdate)).all()
        touches = session.scalar(select(func.count()).select_from(Touchpoint))
    assert (row.visitor_id, row.consent_ad_user_data, row.consent_ad_personalization) == (
        VISITOR,
        True,
        True,
    )
    assert touches == 1
    assert _visitor(runtime).consent_ad_user_data is True


def test_unknown_event_kind_is_a_named_400(client, page_view):
    """Only page_view and consent hits exist; anything else names the field."""
    response = client.post("/collect", json=page_view(event="purchase"))
    assert response.status_code == 400
    assert response.get_json()["detail"][0]["field"] == "event"


def test_client_ip_kept_with_its_time(client, runtime, page_view):
    """The connection's address is kept (for Meta) with the hit's time."""
    response = client.post(
        "/collect", json=page_view(), environ_base={"REMOTE_ADDR": "203.0.113.7"}
    )
    assert response.status_code == 204
    visitor = _visitor(runtime)
    assert visitor.client_ip == "203.0.113.7" and visitor.client_ip_at is not None


def test_client_ip_behind_proxies(make_client, page_view):
    """With forwarded_hops=1 the address the proxy saw wins; client-claimed entries never."""
    client, runtime = make_client({"tracking": {"forwarded_hops": 1}})
    response = client.post(
        "/collect",
        json=page_view(),
        headers={"X-Forwarded-For": "10.9.9.9, 198.51.100.4"},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    assert response.status_code == 204
    assert _visitor(runtime).client_ip == "198.51.100.4"


def test_no_ip_without_consent_or_retention(make_client, page_view):
    """Denied ad_user_data, or ip_retention_days 0, keeps no IP at all."""
    client, runtime = make_client({})
    client.post("/collect", json=page_view(consent={"ad_user_data": False}))
    assert _visitor(runtime).client_ip is None
    client, runtime = make_client({"tracking": {"ip_retention_days": 0}})
    client.post("/collect", json=page_view())
    assert _visitor(runtime).client_ip is None


def test_forget_erases_consent_updates_and_ip(client, runtime, page_view):
    """Erasing a visitor takes its consent updates and IP with it."""
    client.post("/collect", json=page_view(), environ_base={"REMOTE_ADDR": "203.0.113.7"})
    client.post("/collect", json=page_view(event="consent", consent={"ad_user_data": True}))
    response = client.post(
        "/privacy/forget",
        json={"visitor_id": VISITOR},
        headers={"Authorization": "Bearer test-trigger-token"},
    )
    assert response.status_code == 200
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ConsentUpdate)) == 0
        assert session.get(Visitor, VISITOR) is None
