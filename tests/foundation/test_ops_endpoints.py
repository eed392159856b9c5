"""HTTP ops endpoints: /healthz, /readyz, /trigger, /runs/<id>, /openapi.json."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from sqlalchemy import update

from connector.runs import RunContext, RunService
from connector.scheduler import HEARTBEAT_CURSOR, beat
from connector.storage import lease
from connector.storage.models import Cursor, utcnow

AUTH = {"Authorization": "Bearer test-trigger-token"}


def test_healthz(client):
    """Liveness answers without touching anything else."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_not_ready_without_scheduler(client):
    """With scheduling on and no scheduler heartbeat, the service is not ready (503)."""
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["scheduler"]["ok"] is False


def test_readyz_ready_with_fresh_heartbeat(client, runtime):
    """A fresh scheduler heartbeat and a reachable database make the service ready."""
    beat(runtime)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"


def test_readyz_stale_heartbeat_is_not_ready(client, runtime):
    """A heartbeat older than three intervals means the scheduler died."""
    beat(runtime)
    stale = (utcnow() - timedelta(minutes=10)).isoformat() + "|someone"
    with runtime.sessions.begin() as session:
        session.execute(update(Cursor).where(Cursor.name == HEARTBEAT_CURSOR).values(value=stale))
    assert client.get("/readyz").status_code == 503


def test_readyz_database_down(make_settings, make_app, tmp_path):
    """An unreachable database answers 503 naming the failing check."""
    app = make_app(make_settings({"schedule": {"enabled": False}}))
    rt = app.extensions["closedloop"]
    rt.engine.dispose()
    broken = make_settings(
        {
            "database": {"url": f"sqlite:///{tmp_path}/missing-dir/x.db"},
            "schedule": {"enabled": False},
        }
    )
    from connector.storage.db import make_engine

    rt.engine = make_engine(broken.database.url)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["ok"] is False


def test_readyz_ready_when_scheduling_disabled(make_settings, make_app):
    """An HTTP-only replica (schedule disabled) is ready when the database answers."""
    app = make_app(make_settings({"schedule": {"enabled": False}}))
    assert app.test_client().get("/readyz").status_code == 200


def test_trigger_requires_token(client):
    """No token and a wrong token are both 401 with a JSON error."""
    missing = client.post("/trigger")
    wrong = client.post("/trigger", headers={"Authorization": "Bearer nope"})
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.get_json()["error"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_trigger_starts_a_run_and_runs_reports_it(app, client):
    """The right token starts a run (202 + id) whose status /runs/<id> serves."""
    done = threading.Event()

    class Marker:
        name = "marker"

        def __call__(self, ctx: RunContext) -> None:
            ctx.counts["marker"] = 1
            done.set()

    app.extensions["closedloop.runs"] = RunService(app.extensions["closedloop"], steps=[Marker()])
    response = client.post("/trigger", headers=AUTH)
    assert response.status_code == 202
    run_id = response.get_json()["run_id"]
    assert done.wait(10)
    for _ in range(200):
        run = client.get(f"/runs/{run_id}", headers=AUTH).get_json()
        if run["status"] != "running":
            break
        threading.Event().wait(0.01)
    assert run["status"] == "succeeded"
    assert run["counts"] == {"marker": 1}
    assert run["trigger"] == "manual"


def test_trigger_conflicts_while_a_run_is_in_progress(app, client):
    """A second trigger while a run holds the lease is 409; after it ends, 202 again."""
    release = threading.Event()
    started = threading.Event()

    class Blocking:
        name = "blocking"

        def __call__(self, ctx: RunContext) -> None:
            started.set()
            release.wait(10)

    app.extensions["closedloop.runs"] = RunService(app.extensions["closedloop"], steps=[Blocking()])
    first = client.post("/trigger", headers=AUTH)
    assert first.status_code == 202
    assert started.wait(10)
    second = client.post("/trigger", headers=AUTH)
    assert second.status_code == 409
    assert second.get_json()["error"] == "run_in_progress"
    release.set()
    run_id = first.get_json()["run_id"]
    for _ in range(500):
        if client.get(f"/runs/{run_id}", headers=AUTH).get_json()["status"] != "running":
            break
        threading.Event().wait(0.01)
    assert app.extensions["closedloop.runs"].wait_idle(10)
    app.extensions["closedloop.runs"] = RunService(app.extensions["closedloop"], steps=[])
    assert client.post("/trigger", headers=AUTH).status_code == 202


def test_trigger_409_when_another_process_holds_the_lease(client, runtime):
    """The lease, not process memory, decides: another holder's live lease means 409."""
    assert lease.acquire(runtime.engine, "sync", "other-host:123", 300)
    assert client.post("/trigger", headers=AUTH).status_code == 409


def test_trigger_without_configured_token_is_forbidden(make_settings, make_app):
    """With no trigger_token configured, /trigger refuses everyone (403), never runs open."""
    settings = make_settings({"server": {"trigger_token": None}})
    response = make_app(settings).test_client().post("/trigger", headers=AUTH)
    assert response.status_code == 403


def test_unknown_run_is_404_json(client):
    """Unknown runs and unknown paths answer JSON errors."""
    response = client.get("/runs/999999", headers=AUTH)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"
    assert client.get("/nope").get_json()["error"] == "not_found"


def test_openapi_lists_every_route(app, client):
    """Every route the app serves is described in /openapi.json."""
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    described = set(document["paths"])
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", str(rule))
        assert path in described, f"{path} missing from the OpenAPI document"
