"""``POST /webhooks/hubspot``: signature checks, and the fast path that syncs just those deals."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from connector.runs import SYNC_LEASE, RunService, get_run
from connector.runtime import Runtime
from connector.storage import lease
from connector.storage.models import Cursor, SyncRun
from tests.sync.conftest import Syncer, outbox, won_deal

URL = "http://localhost/webhooks/hubspot"


@pytest.fixture
def webhook_app(sync_runtime, clock):
    """The app around the sync runtime, its run service running the sync step."""
    from connector.app import create_app

    app = create_app(runtime=sync_runtime)
    app.config["TESTING"] = True
    app.extensions["closedloop.runs"] = RunService(
        sync_runtime, steps=[Syncer(sync_runtime, clock).step()]
    )
    return app


def stage_change(*deal_ids: str, prop: str = "dealstage") -> str:
    return json.dumps(
        [
            {
                "objectId": int(d),
                "subscriptionType": "deal.propertyChange",
                "propertyName": prop,
                "propertyValue": "closedwon",
                "occurredAt": 1,
            }
            for d in deal_ids
        ]
    )


def post(client: Any, hubspot: Any, body: str, *, age_ms: int = 0, secret: str | None = None):
    stamp = int(time.time() * 1000) - age_ms
    if secret is None:
        headers = hubspot.sign_webhook("POST", URL, body, stamp)
    else:
        from platforms.hubspot.webhook_signature import v3_headers

        headers = v3_headers(secret, "POST", URL, body, stamp)
    return client.post(URL, data=body, headers={**headers, "Content-Type": "application/json"})


def wait_for_run(run_id: int) -> None:
    for thread in threading.enumerate():
        if thread.name == f"run-{run_id}":
            thread.join(timeout=60)


def test_signed_stage_change_syncs_only_that_deal(webhook_app, hubspot, seed, sync_runtime):
    """A valid webhook starts a run of just the changed deal and answers 202 at once."""
    contact = hubspot.add_contact({"email": "ann@example.com"})
    seed.visitor(seed.person("ann@example.com"), ga_client_id="1.2")
    changed = won_deal(hubspot, [contact])
    won_deal(hubspot, [contact])
    answer = post(webhook_app.test_client(), hubspot, stage_change(changed))
    assert answer.status_code == 202, answer.json
    assert answer.json["status"] == "running" and answer.json["deal_ids"] == [changed]
    wait_for_run(answer.json["run_id"])
    run = get_run(sync_runtime, answer.json["run_id"])
    assert run.status == "succeeded" and run.trigger == "webhook"
    assert {r[0] for r in outbox(sync_runtime)} == {changed}


def test_bad_signature_is_401(webhook_app, hubspot):
    """A body signed with another secret is refused with a JSON 401."""
    answer = post(webhook_app.test_client(), hubspot, stage_change("1"), secret="not-the-secret")
    assert answer.status_code == 401
    assert answer.json["error"] == "bad_signature"


def test_tampered_body_is_401(webhook_app, hubspot):
    """Changing the body after signing breaks the signature."""
    stamp = int(time.time() * 1000)
    headers = hubspot.sign_webhook("POST", URL, stage_change("1"), stamp)
    answer = webhook_app.test_client().post(URL, data=stage_change("2"), headers=headers)
    assert answer.status_code == 401


def test_stale_timestamp_is_401(webhook_app, hubspot):
    """A correctly signed request older than five minutes is refused (replay protection)."""
    answer = post(webhook_app.test_client(), hubspot, stage_change("1"), age_ms=6 * 60 * 1000)
    assert answer.status_code == 401
    assert answer.json["error"] == "stale_request"


def test_missing_headers_is_401(webhook_app):
    """No signature at all is refused."""
    answer = webhook_app.test_client().post(URL, data=stage_change("1"))
    assert answer.status_code == 401 and answer.json["error"] == "unauthorized"


def test_irrelevant_changes_start_nothing(webhook_app, hubspot):
    """A change to a property the sync does not use is acknowledged without a run."""
    answer = post(webhook_app.test_client(), hubspot, stage_change("1", prop="description"))
    assert answer.status_code == 200 and answer.json["status"] == "ignored"


def test_during_a_run_ids_are_queued_for_the_next(webhook_app, hubspot, seed, sync_runtime, clock):
    """If a run holds the lease, the deals are remembered and the next run syncs them."""
    contact = hubspot.add_contact({"email": "ann@example.com"})
    queued = won_deal(hubspot, [contact])
    other = won_deal(hubspot, [contact])
    assert lease.acquire(sync_runtime.engine, SYNC_LEASE, "someone-else", 300)
    answer = post(webhook_app.test_client(), hubspot, stage_change(queued))
    assert answer.status_code == 202 and answer.json["status"] == "queued"
    lease.release(sync_runtime.engine, SYNC_LEASE, "someone-else")
    Syncer(sync_runtime, clock)(deal_ids=[other])
    assert {r[0] for r in outbox(sync_runtime)} == {queued, other}
    with sync_runtime.sessions() as session:
        assert session.scalars(select(Cursor.name).where(Cursor.name.like("%pending%"))).all() == []


def test_openapi_documents_the_webhook(webhook_app):
    """The webhook path is in /openapi.json."""
    doc = webhook_app.test_client().get("/openapi.json").json
    assert "401" in doc["paths"]["/webhooks/hubspot"]["post"]["responses"]


def test_signed_garbage_is_400(webhook_app, hubspot):
    """A correctly signed body that is not a JSON array of events is a 400, not a crash."""
    for body in ("not json", json.dumps({"objectId": 1})):
        answer = post(webhook_app.test_client(), hubspot, body)
        assert answer.status_code == 400 and answer.json["error"] == "bad_request"


@pytest.fixture
def unkeyed_app(make_settings, sync_config, hubspot):
    """The app with ``client_secret: ${HUBSPOT_CLIENT_SECRET:-}`` and the variable unset."""
    from connector.app import create_app

    config = json.loads(json.dumps(sync_config))
    config["platforms"]["hubspot"]["client_secret"] = "${HUBSPOT_CLIENT_SECRET:-}"
    rt = Runtime.from_settings(make_settings(config, env={}))
    app = create_app(runtime=rt)
    app.config["TESTING"] = True
    yield app
    app.extensions["closedloop.runs"].wait_idle(30)
    rt.close()


def test_empty_client_secret_is_not_configured(unkeyed_app, hubspot, sync_runtime):
    """A request signed with the empty key gets 403 not_configured and starts no run."""
    answer = post(unkeyed_app.test_client(), hubspot, stage_change("1"), secret="")
    assert answer.status_code == 403, answer.json
    assert answer.json["error"] == "not_configured"
    assert "platforms.hubspot.client_secret" in answer.json["detail"]
    with unkeyed_app.extensions["closedloop"].sessions() as session:
        assert session.scalars(select(SyncRun)).all() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-HubSpot-Request-Timestamp", "²"),
        ("X-HubSpot-Request-Timestamp", "١٢٣"),
        ("X-HubSpot-Request-Timestamp", "9" * 5000),
        ("X-HubSpot-Signature-v3", "sïgnature-é"),
    ],
)
def test_odd_signature_headers_are_401(webhook_app, hubspot, name, value):
    """Non-ASCII digits, huge numbers or non-ASCII signatures are a JSON 401, never a 500."""
    body = stage_change("1")
    headers = hubspot.sign_webhook("POST", URL, body, int(time.time() * 1000))
    headers[name] = value
    answer = webhook_app.test_client().post(
        URL, data=body, headers={**headers, "Content-Type": "application/json"}
    )
    assert answer.status_code == 401, answer.get_data(as_text=True)
    assert answer.json["error"] in ("unauthorized", "bad_signature", "stale_request")


def test_signed_deep_json_is_400(webhook_app, hubspot):
    """A signed body nested deeper than the JSON parser goes is a 400, not a crash."""
    answer = post(webhook_app.test_client(), hubspot, "[" * 30_000 + "]" * 30_000)
    assert answer.status_code == 400 and answer.json["error"] == "bad_request"
