"""POST /collect: what a page view stores, and every way a bad request is turned away."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from connector.storage.models import ClickId, Touchpoint, Visitor, utcnow

VISITOR = "v-0123456789abcdef"


def _touchpoints(runtime):
    with runtime.sessions() as session:
        return list(session.scalars(select(Touchpoint).order_by(Touchpoint.id)))


def test_page_view_stores_journey(client, runtime, page_view):
    """A landing with UTM + gclid stores touchpoint, visitor cookies and the click ID."""
    body = page_view(
        ga_client_id="123456789.1700000000",
        ga_session_id="1700000123",
        fbp="fb.1.1700000000000.42",
        consent={"ad_user_data": True, "ad_personalization": False},
    )
    response = client.post("/collect", json=body, headers={"User-Agent": "Mozilla/5.0 test"})
    assert response.status_code == 204
    [tp] = _touchpoints(runtime)
    assert (tp.source, tp.medium, tp.channel, tp.is_new_session) == (
        "google",
        "cpc",
        "Paid Search",
        True,
    )
    assert tp.click_ids == {"gclid": "G-1"}
    assert tp.path == "/landing"
    with runtime.sessions() as session:
        visitor = session.get(Visitor, VISITOR)
        click = session.scalars(select(ClickId)).one()
    assert visitor.ga_client_id == "123456789.1700000000"
    assert visitor.ga_session_id == "1700000123"
    assert visitor.fbp == "fb.1.1700000000000.42"
    assert (visitor.consent_ad_user_data, visitor.consent_ad_personalization) == (True, False)
    assert visitor.user_agent == "Mozilla/5.0 test"
    assert (click.kind, click.value, click.touchpoint_id) == ("gclid", "G-1", tp.id)


def test_sendbeacon_text_plain_accepted(client, runtime, page_view):
    """The text/plain;charset=UTF-8 body that sendBeacon sends is parsed as JSON."""
    response = client.post(
        "/collect", data=json.dumps(page_view()), content_type="text/plain;charset=UTF-8"
    )
    assert response.status_code == 204
    assert len(_touchpoints(runtime)) == 1


def test_click_id_keeps_first_seen_time(client, runtime, page_view):
    """A click ID seen again keeps the time it was first seen."""
    now = utcnow()
    first = int((now - timedelta(hours=2)).timestamp() * 1000)
    client.post("/collect", json=page_view(ts=first))
    client.post("/collect", json=page_view(ts=int(now.timestamp() * 1000)))
    with runtime.sessions() as session:
        click = session.scalars(select(ClickId)).one()
    assert abs(click.first_seen_at.timestamp() * 1000 - first) < 1


def test_internal_page_keeps_session_source(client, runtime, page_view):
    """A second, internal page view in the same session keeps the paid source."""
    client.post("/collect", json=page_view())
    client.post(
        "/collect",
        json=page_view(url="https://shop.example/pricing", referrer="https://shop.example/landing"),
    )
    first, second = _touchpoints(runtime)
    assert second.channel == "Paid Search" and second.source == "google"
    assert second.is_new_session is False and first.is_new_session is True


def test_fbc_built_from_fbclid_with_click_time(client, runtime, page_view):
    """Without an _fbc cookie, fbc is fb.1.<click time ms>.<fbclid>."""
    ts = int(utcnow().timestamp() * 1000)
    client.post("/collect", json=page_view(url="https://shop.example/?fbclid=FB123", ts=ts))
    with runtime.sessions() as session:
        assert session.get(Visitor, VISITOR).fbc == f"fb.1.{ts}.FB123"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "ftp://files.example/x"}, "url"),
        ({"url": "/relative/path"}, "url"),
        ({"url": "https://exa mple.com/"}, "url"),
        ({"referrer": "data:text/html,<script>alert(1)</script>"}, "referrer"),
        ({"visitor_id": "<script>"}, "visitor_id"),
        ({"ts": "yesterday"}, "ts"),
        ({"click_ids": {"gclid": "a b"}}, "click_ids.gclid"),
        ({"click_ids": {"dclid": "x"}}, "click_ids.dclid"),
        ({"utm": {"source": "x" * 300}}, "utm.source"),
        ({"unknown_field": 1}, "unknown_field"),
        ({"consent": {"ad_user_data": "maybe"}}, "consent.ad_user_data"),
    ],
)
def test_invalid_fields_named(client, runtime, page_view, row_counts, change, field):
    """Each invalid value is a 400 that names the field, and nothing is stored."""
    response = client.post("/collect", json=page_view(**change))
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "invalid_request"
    assert field in [d["field"] for d in body["detail"]]
    assert set(row_counts(runtime).values()) == {0}


def test_missing_field_named(client, page_view):
    """A missing required field is named."""
    body = page_view()
    del body["url"]
    response = client.post("/collect", json=body)
    assert response.status_code == 400
    assert response.get_json()["detail"] == [{"field": "url", "message": "Field required"}]


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[1, 2]", b"null", b"[" * 5000])
def test_bad_json(client, runtime, row_counts, raw):
    """Malformed or non-object JSON is a 400 JSON error."""
    response = client.post("/collect", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"] in ("invalid_json", "invalid_request")
    assert set(row_counts(runtime).values()) == {0}


def test_body_over_cap_is_413_json(client, runtime, page_view, row_counts):
    """A body over server.max_body_bytes is a JSON 413 and stores nothing."""
    body = page_view(title="t" * 100_000)
    response = client.post("/collect", data=json.dumps(body), content_type="text/plain")
    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"]
    assert set(row_counts(runtime).values()) == {0}


@pytest.mark.parametrize(
    "content_type", ["application/xml", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_wrong_content_type_is_415(client, page_view, content_type):
    """Anything but JSON or text/plain JSON is a 415."""
    response = client.post("/collect", data=json.dumps(page_view()), content_type=content_type)
    assert response.status_code == 415
    assert response.get_json()["error"] == "unsupported_media_type"


def test_script_in_referrer_and_title_stored_inertly(client, runtime, page_view):
    """Markup in a valid URL or title is stored as text and never echoed back."""
    referrer = "https://evil.example/?q=<script>alert(1)</script>"
    title = '"><img src=x onerror=alert(1)>'
    response = client.post(
        "/collect", json=page_view(url="https://shop.example/", referrer=referrer, title=title)
    )
    assert response.status_code == 204 and response.data == b""
    [tp] = _touchpoints(runtime)
    assert tp.referrer == referrer and tp.title == title
    assert tp.channel == "Referral"


def test_half_stored_never(client, runtime, page_view, row_counts):
    """A database failure after the visitor upsert rolls back the whole page view."""
    with runtime.engine.begin() as conn:
        if runtime.engine.dialect.name == "sqlite":
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_click BEFORE INSERT ON click_ids "
                    "WHEN NEW.value = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_click() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.value = 'boom' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_click BEFORE INSERT ON click_ids "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_click()"
                )
            )
    response = client.post("/collect", json=page_view(url="https://shop.example/?gclid=boom"))
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_error"
    assert set(row_counts(runtime).values()) == {0}


def test_cors_allowed_origin_and_preflight(make_client, page_view):
    """An allowed origin gets CORS headers on preflight and on the POST."""
    client, _ = make_client({"server": {"allowed_origins": ["https://shop.example"]}})
    origin = {"Origin": "https://shop.example"}
    preflight = client.options(
        "/collect", headers={**origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    response = client.post("/collect", json=page_view(), headers=origin)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"


def test_cors_denied_origin(make_client, page_view, row_counts):
    """Another origin is refused (403, no CORS headers) on preflight and POST; nothing stored."""
    client, runtime = make_client({"server": {"allowed_origins": ["https://shop.example"]}})
    origin = {"Origin": "https://attacker.example"}
    preflight = client.options("/collect", headers=origin)
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers
    response = client.post("/collect", json=page_view(), headers=origin)
    assert response.status_code == 403
    assert response.get_json()["error"] == "origin_not_allowed"
    assert set(row_counts(runtime).values()) == {0}


def test_rate_limit_429(make_client, page_view, row_counts):
    """Past server.rate_limit_per_minute from one IP: 429 JSON with Retry-After."""
    client, runtime = make_client({"server": {"rate_limit_per_minute": 3}})
    statuses = [client.post("/collect", json=page_view()).status_code for _ in range(4)]
    assert statuses == [204, 204, 204, 429]
    limited = client.post("/collect", json=page_view())
    assert limited.get_json()["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    other = client.post("/collect", json=page_view(), environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 204
    assert row_counts(runtime)["touchpoints"] == 4


def test_snippet_served_with_caching(make_client):
    """GET /t.js: JavaScript with config injected safely, ETag revalidation, under 4 kB."""
    client, _ = make_client(
        {"tracking": {"visitor_cookie": "vid", "form_selector": "form</script><script>x()"}}
    )
    response = client.get("/t.js")
    assert response.status_code == 200
    assert response.mimetype == "application/javascript"
    assert "max-age" in response.headers["Cache-Control"]
    body = response.get_data(as_text=True)
    assert "</script>" not in body and "\\u003c/script\\u003e" in body
    assert '"cookie":"vid"' in body and '"url":"http://localhost"' in body
    # 3 kB until the snippet learnt Consent Mode updates and Meta's _fbc renewal (2 kB gzipped).
    assert len(response.data) < 4000
    again = client.get("/t.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
