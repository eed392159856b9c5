"""The real snippet in headless Chromium: landing, second page, form; journey and HubSpot."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from connector.identity import email_key
from connector.storage.models import ClickId, ConsentUpdate, Lead, Person, Touchpoint, Visitor
from connector.tracking.routes import WORKER
from platforms.hubspot.sandbox import HubSpotSandbox

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Finished:
    """WSGI middleware that counts finished responses per path, so a test can wait on them."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.counts: Counter[str] = Counter()
        self.changed = threading.Condition()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        try:
            yield from self.app(environ, start_response)
        finally:
            with self.changed:
                self.counts[path] += 1
                self.changed.notify_all()

    def wait_for(self, path: str, count: int, timeout: float = 20.0) -> None:
        with self.changed:
            ok = self.changed.wait_for(lambda: self.counts[path] >= count, timeout)
        assert ok, f"only {self.counts[path]} of {count} {path} requests finished"


@contextmanager
def serving(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app on a free port with a real threaded server."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


def site_app(tracker: dict[str, str]) -> Callable[..., Any]:
    """A tiny customer website that embeds the snippet (from ``tracker["url"]``) on each page."""
    pages = {
        "/landing": '<h1>Spring sale</h1><a id="next" href="/pricing">Pricing</a>',
        "/pricing": (
            '<form class="lead" action="/thanks" method="get">'
            '<input type="email" name="email"><input type="tel" name="phone">'
            '<button id="send" type="submit">Send</button></form>'
        ),
        "/thanks": "<p>Thanks!</p>",
        "/consent": "<p>Consent denied by the site's CMP</p>",
        "/gtag": "<p>Google Consent Mode, denied by default</p>",
    }
    head_scripts = {
        "/consent": (
            "<script>window.cmp = {consent: {ad_user_data: 'denied',"
            " ad_personalization: 'denied'}};</script>"
        ),
        "/gtag": (
            "<script>window.dataLayer = window.dataLayer || [];"
            "function gtag(){dataLayer.push(arguments);}"
            "gtag('consent', 'default', {ad_user_data: 'denied', ad_personalization: 'denied',"
            " ad_storage: 'denied'});</script>"
        ),
    }

    @Request.application
    def app(request: Request) -> Response:
        body = pages.get(request.path)
        if body is None:
            return Response("not found", status=404)
        html = (
            f"<!doctype html><html><head><title>{request.path[1:]}</title>"
            f"{head_scripts.get(request.path, '')}"
            f'<script src="{tracker["url"]}/t.js" async></script></head><body>{body}</body></html>'
        )
        return Response(html, mimetype="text/html")

    return app


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    """The HubSpot sandbox the write-back reaches."""
    with HubSpotSandbox() as sandbox:
        yield sandbox


def test_snippet_journey_identity_and_writeback(make_client, hubspot):
    """gclid+UTM landing, a second page and a form become a journey, a person and a contact."""
    from playwright.sync_api import sync_playwright

    tracker_ref: dict[str, str] = {}
    site = make_server("127.0.0.1", 0, site_app(tracker_ref), threaded=True)
    site_origin = f"http://127.0.0.1:{site.server_port}"
    client, runtime = make_client(
        {
            "server": {"allowed_origins": [site_origin]},
            "tracking": {"form_selector": "form.lead"},
            "platforms": {
                "hubspot": hubspot.platform_config(),
                "ga4": {"measurement_id": "G-ABC123"},
            },
        }
    )
    app = client.application
    tracker = Finished(app.wsgi_app)
    app.wsgi_app = tracker  # count finished requests at the WSGI edge
    with serving(app) as tracker_url:
        tracker_ref["url"] = tracker_url
        site_thread = threading.Thread(target=site.serve_forever, daemon=True)
        site_thread.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                context = browser.new_context()
                context.add_cookies(
                    [
                        {"name": "_ga", "value": "GA1.1.123456789.1700000000", "url": site_origin},
                        {
                            "name": "_ga_ABC123",
                            "value": "GS1.1.1700000999.1.1.1700001000.0.0.0",
                            "url": site_origin,
                        },
                    ]
                )
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(
                    f"{site_origin}/landing?gclid=TEST-GCLID&fbclid=FB-1&utm_source=google"
                    "&utm_medium=cpc&utm_campaign=spring&utm_term=crm",
                    referer="https://www.google.com/",
                )
                tracker.wait_for("/collect", 1)
                page.click("#next")
                page.wait_for_url("**/pricing")
                tracker.wait_for("/collect", 2)
                page.fill("input[name=email]", "Jane.Doe@Example.com")
                page.fill("input[name=phone]", "+1 415 555 0123")
                page.click("#send")
                page.wait_for_url("**/thanks*")
                tracker.wait_for("/identify", 1)
                tracker.wait_for("/collect", 3)
                cookies = {c["name"]: c["value"] for c in context.cookies(site_origin)}
                browser.close()
        finally:
            site.shutdown()
            site_thread.join(10)
        assert app.extensions[WORKER].wait_idle(30)
        app.extensions[WORKER].stop()

    assert errors == []
    visitor_id = cookies["cl_vid"]
    # A cookie on an IP host has subdomain index 0 (Meta's parameter builder counts it so).
    assert cookies["_fbc"].startswith("fb.0.") and cookies["_fbc"].endswith(".FB-1")
    with runtime.sessions() as session:
        touchpoints = list(session.scalars(select(Touchpoint).order_by(Touchpoint.occurred_at)))
        visitor = session.get(Visitor, visitor_id)
        person = session.scalars(select(Person)).one()
        lead = session.scalars(select(Lead)).one()
        clicks = {c.kind: c.value for c in session.scalars(select(ClickId))}
    landing, pricing, thanks = touchpoints
    assert {tp.visitor_id for tp in touchpoints} == {visitor_id}
    assert (landing.source, landing.medium, landing.campaign, landing.channel) == (
        "google",
        "cpc",
        "spring",
        "Paid Search",
    )
    assert landing.referrer == "https://www.google.com/"
    assert landing.click_ids == {"gclid": "TEST-GCLID", "fbclid": "FB-1"}
    assert pricing.path == "/pricing" and pricing.is_new_session is False
    assert pricing.channel == "Paid Search"  # same session keeps its source
    assert thanks.path == "/thanks"
    assert clicks == {"gclid": "TEST-GCLID", "fbclid": "FB-1"}
    assert visitor.ga_client_id == "123456789.1700000000"
    assert visitor.ga_session_id == "1700000999"
    assert visitor.fbc == cookies["_fbc"]
    assert visitor.consent_ad_user_data is True
    assert visitor.person_id == person.id
    assert person.email_sha256 == email_key("jane.doe@example.com")
    assert person.phone_e164 == "+14155550123"
    assert (lead.kind, lead.visitor_id, lead.crm_status) == ("form", visitor_id, "done")
    assert lead.page_url.endswith("/pricing")
    [contact] = [p for p in hubspot.contacts.values() if p.get("email") == "jane.doe@example.com"]
    assert contact["closedloop_first_source"] == "google"
    assert contact["closedloop_first_channel"] == "Paid Search"
    assert contact["closedloop_first_campaign"] == "spring"
    assert contact["closedloop_first_keyword"] == "crm"
    assert contact["closedloop_last_source"] == "google"
    assert contact["hs_google_click_id"] == "TEST-GCLID"
    assert contact["hs_facebook_click_id"] == "FB-1"
    assert contact["closedloop_visitor_id"] == visitor_id
    assert person.crm_contact_id is not None


def test_consent_denied_and_bad_identify_calls(make_client):
    """Denied consent (CMP global) is recorded and no _fbc is made; bad calls never throw."""
    from playwright.sync_api import sync_playwright

    tracker_ref: dict[str, str] = {}
    site = make_server("127.0.0.1", 0, site_app(tracker_ref), threaded=True)
    site_origin = f"http://127.0.0.1:{site.server_port}"
    client, runtime = make_client(
        {
            "server": {"allowed_origins": [site_origin]},
            "tracking": {"consent_global": "cmp.consent", "visitor_cookie": "vid"},
        }
    )
    app = client.application
    tracker = Finished(app.wsgi_app)
    app.wsgi_app = tracker
    with serving(app) as tracker_url:
        tracker_ref["url"] = tracker_url
        site_thread = threading.Thread(target=site.serve_forever, daemon=True)
        site_thread.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                context = browser.new_context()
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{site_origin}/consent?fbclid=FB-2")
                tracker.wait_for("/collect", 1)
                page.wait_for_function("window.closedloop !== undefined")
                page.evaluate(
                    "() => { closedloop.identify(); closedloop.identify(42);"
                    " closedloop.identify({email: {toString: null}}); closedloop.page(); }"
                )
                tracker.wait_for("/collect", 2)
                cookies = {c["name"]: c["value"] for c in context.cookies(site_origin)}
                browser.close()
        finally:
            site.shutdown()
            site_thread.join(10)
    assert errors == []
    assert "_fbc" not in cookies
    with runtime.sessions() as session:
        visitor = session.get(Visitor, cookies["vid"])
        touchpoints = session.scalars(select(Touchpoint)).all()
    assert (visitor.consent_ad_user_data, visitor.consent_ad_personalization) == (False, False)
    assert visitor.fbc is None  # no Meta click cookie without ad_user_data consent
    assert len(touchpoints) == 2
    assert touchpoints[0].click_ids == {"fbclid": "FB-2"}
    assert tracker.counts["/identify"] == 0


def test_second_fbclid_visit_replaces_fbc_and_consent_updates_are_recorded(make_client):
    """Real Chromium: a second fbclid replaces _fbc; later consent changes are recorded.

    The site runs on www.example.com, so the host-only cookie's subdomain index is 2; Consent
    Mode's update and closedloop.consent() after the page view arrive as consent updates.
    """
    from playwright.sync_api import sync_playwright

    tracker_ref: dict[str, str] = {}
    site = make_server("127.0.0.1", 0, site_app(tracker_ref), threaded=True)
    site_origin = f"http://www.example.com:{site.server_port}"
    client, runtime = make_client({"server": {"allowed_origins": [site_origin]}})
    app = client.application
    tracker = Finished(app.wsgi_app)
    app.wsgi_app = tracker
    args = [*ARGS, "--host-resolver-rules=MAP www.example.com 127.0.0.1"]
    with serving(app) as tracker_url:
        tracker_ref["url"] = tracker_url
        site_thread = threading.Thread(target=site.serve_forever, daemon=True)
        site_thread.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=args)
                context = browser.new_context()
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))

                def fbc() -> str | None:
                    cookies = {c["name"]: c for c in context.cookies(site_origin)}
                    cookie = cookies.get("_fbc")
                    assert cookie is None or cookie["domain"] == "www.example.com"  # host-only
                    return cookie and cookie["value"]

                page.goto(f"{site_origin}/landing?fbclid=IwAR-First")
                tracker.wait_for("/collect", 1)
                first = fbc()
                page.goto(f"{site_origin}/landing?fbclid=IwAR-Second")
                tracker.wait_for("/collect", 2)
                second = fbc()
                page.goto(f"{site_origin}/pricing")
                tracker.wait_for("/collect", 3)
                third = fbc()
                page.goto(f"{site_origin}/gtag?fbclid=IwAR-Third")
                tracker.wait_for("/collect", 4)
                before_consent = fbc()
                page.evaluate(
                    "() => gtag('consent', 'update', {ad_user_data: 'granted',"
                    " ad_personalization: 'granted'})"
                )
                tracker.wait_for("/collect", 5)
                after_consent = fbc()
                page.evaluate("() => closedloop.consent({ad_user_data: 'denied'})")
                tracker.wait_for("/collect", 6)
                visitor_id = {c["name"]: c["value"] for c in context.cookies(site_origin)}["cl_vid"]
                browser.close()
        finally:
            site.shutdown()
            site_thread.join(10)
    assert errors == []
    assert first is not None and first.startswith("fb.2.") and first.endswith(".IwAR-First")
    assert second is not None and second.startswith("fb.2.") and second.endswith(".IwAR-Second")
    assert int(second.split(".")[2]) >= int(first.split(".")[2])
    assert third == second  # no fbclid: the cookie stays
    assert before_consent == second  # denied by Consent Mode's default: no new click cookie
    assert after_consent is not None and after_consent.endswith(".IwAR-Third")
    with runtime.sessions() as session:
        visitor = session.get(Visitor, visitor_id)
        touches = session.scalars(select(Touchpoint).order_by(Touchpoint.id)).all()
        updates = session.scalars(select(ConsentUpdate).order_by(ConsentUpdate.id)).all()
    assert len(touches) == 4
    assert touches[1].fbc == second and touches[3].consent_ad_user_data is False
    assert [(u.consent_ad_user_data, u.consent_ad_personalization) for u in updates] == [
        (True, True),
        (False, True),
    ]
    assert visitor.fbc == after_consent
    assert visitor.consent_ad_user_data is False
