"""``server.trusted_proxies``: the client's IP, scheme and host behind nginx/Caddy.

They are believed for that many hops, and with 0 nobody's forwarded headers are (anyone can
send them).
"""

from __future__ import annotations

import json
import time

import pytest
from hubspot.utils.signature import Signature
from sqlalchemy import select

from connector.app import create_app
from connector.errors import ConfigError
from connector.runtime import Runtime
from connector.storage.models import Visitor

PROXY = "10.0.0.2"  # the reverse proxy's own address, as the app sees the connection
CLIENT = "198.51.100.4"
PUBLIC = "https://track.example.com"
SECRET = "shh-client-secret"


@pytest.fixture
def build(make_settings):
    """``build(trusted_proxies, **server)``: a test client and its runtime.

    Teardown waits for the runs an accepted webhook started before closing the runtime, so no
    connection of theirs outlives it.
    """
    runtimes: list[Runtime] = []
    apps: list = []

    def make(trusted_proxies: int, **server):
        raw = {
            "server": {"trusted_proxies": trusted_proxies, **server},
            "platforms": {
                "hubspot": {"enabled": True, "access_token": "pat", "client_secret": SECRET}
            },
        }
        runtime = Runtime.from_settings(make_settings(raw))
        runtimes.append(runtime)
        app = create_app(runtime=runtime)
        app.config["TESTING"] = True
        apps.append(app)
        return app.test_client(), runtime

    yield make
    for app in apps:
        assert app.extensions["closedloop.runs"].wait_idle(60)
    for runtime in runtimes:
        runtime.close()


def page_view(visitor: str) -> dict:
    return {"visitor_id": visitor, "url": "https://shop.example/", "title": "Home"}


def forwarded(ip: str, proto: str = "https", host: str = "track.example.com") -> dict:
    """What nginx/Caddy add (``$proxy_add_x_forwarded_for``: the client claims, then theirs)."""
    return {"X-Forwarded-For": ip, "X-Forwarded-Proto": proto, "X-Forwarded-Host": host}


def stored_ip(runtime: Runtime, visitor: str) -> str | None:
    with runtime.sessions() as session:
        return session.scalar(select(Visitor.client_ip).where(Visitor.id == visitor))


def collect(client, visitor: str, headers: dict) -> int:
    response = client.post(
        "/collect", json=page_view(visitor), headers=headers, environ_base={"REMOTE_ADDR": PROXY}
    )
    return response.status_code


def test_one_proxy_gives_each_client_its_own_rate_limit_bucket(build):
    """Behind one proxy, two visitors are two buckets; the same visitor twice is limited."""
    client, _ = build(1, rate_limit_per_minute=1)
    assert collect(client, "v-aaaaaaaaaaaaaaaa", forwarded("198.51.100.4")) == 204
    assert collect(client, "v-bbbbbbbbbbbbbbbb", forwarded("198.51.100.5")) == 204
    assert collect(client, "v-aaaaaaaaaaaaaaaa", forwarded("198.51.100.4")) == 429


def test_without_trusted_proxies_a_forged_header_escapes_no_limit(build):
    """With 0, a client rotating X-Forwarded-For is still one bucket: its connection's."""
    client, _ = build(0, rate_limit_per_minute=1)
    assert collect(client, "v-aaaaaaaaaaaaaaaa", forwarded("203.0.113.1")) == 204
    assert collect(client, "v-bbbbbbbbbbbbbbbb", forwarded("203.0.113.2")) == 429


def test_the_ip_kept_for_meta_is_the_clients(build):
    """The proxy's own entry is what counts: entries the client put before it are not."""
    client, runtime = build(1)
    headers = forwarded(f"6.6.6.6, {CLIENT}")  # "6.6.6.6" is what the client claimed
    assert collect(client, "v-aaaaaaaaaaaaaaaa", headers) == 204
    assert stored_ip(runtime, "v-aaaaaaaaaaaaaaaa") == CLIENT


def test_without_trusted_proxies_the_forwarded_ip_is_ignored(build):
    """With 0 the connection's address is kept, whatever X-Forwarded-For claims."""
    client, runtime = build(0)
    assert collect(client, "v-aaaaaaaaaaaaaaaa", forwarded("6.6.6.6")) == 204
    assert stored_ip(runtime, "v-aaaaaaaaaaaaaaaa") == PROXY


def test_the_snippet_points_at_the_public_https_host(build):
    """/t.js (no public_url set) sends hits to the host and scheme the browser used."""
    client, _ = build(1)
    script = client.get("/t.js", headers=forwarded(CLIENT)).get_data(as_text=True)
    assert f'"url":"{PUBLIC}"' in script
    client, _ = build(0)
    script = client.get("/t.js", headers=forwarded(CLIENT)).get_data(as_text=True)
    assert f'"url":"{PUBLIC}"' not in script and '"url":"http://localhost"' in script


def signed_webhook(client, uri: str) -> int:
    """POST a HubSpot v3-signed webhook; HubSpot signs the public URL it called."""
    body = json.dumps(
        [
            {
                "objectId": 1,
                "subscriptionType": "deal.propertyChange",
                "propertyName": "description",
                "propertyValue": "x",
                "occurredAt": 1,
            }
        ]
    )
    stamp = str(int(time.time() * 1000))
    # The expected signature comes from HubSpot's own SDK, not from our verifier.
    signature = Signature.get_signature(SECRET, body, "v3", uri, "POST", stamp)
    headers = {
        **forwarded(CLIENT),
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }
    return client.post("/webhooks/hubspot", data=body, headers=headers).status_code


def test_the_webhook_signature_checks_against_the_public_url(build):
    """Behind the proxy (no public_url), the URL HubSpot signed is rebuilt from the headers."""
    client, _ = build(1)
    assert signed_webhook(client, f"{PUBLIC}/webhooks/hubspot") == 200
    client, _ = build(0)
    assert signed_webhook(client, f"{PUBLIC}/webhooks/hubspot") == 401


def test_forwarded_hops_and_trusted_proxies_together_are_refused(make_settings):
    """Two knobs for one hop count could disagree: the config names the one to drop."""
    with pytest.raises(ConfigError, match=r"tracking\.forwarded_hops"):
        make_settings({"server": {"trusted_proxies": 1}, "tracking": {"forwarded_hops": 1}})


def test_trusted_proxies_is_bounded(make_settings):
    """A negative hop count is a config error naming the key."""
    with pytest.raises(ConfigError, match=r"server\.trusted_proxies"):
        make_settings({"server": {"trusted_proxies": -1}})


def test_https_is_detected_from_the_proxy(build):
    """Secure cookies and redirects depend on ``request.is_secure``: true behind TLS proxies."""
    from flask import request

    for hops, secure in ((1, True), (0, False)):
        client, _ = build(hops)
        client.application.add_url_rule(
            "/probe", "probe", lambda: {"secure": request.is_secure, "ip": request.remote_addr}
        )
        answer = client.get(
            "/probe", headers=forwarded(CLIENT), environ_base={"REMOTE_ADDR": PROXY}
        )
        assert answer.get_json() == {"secure": secure, "ip": CLIENT if hops else PROXY}
