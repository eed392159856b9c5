"""Ops endpoints: liveness, readiness, manual trigger and run status."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, request

from connector import health
from connector.app.body import MAX_ROW_ID, json_object
from connector.app.context import runs, runtime
from connector.app.errors import ApiError
from connector.errors import LeaseHeld
from connector.runs import get_run, run_as_dict
from connector.runtime import Runtime
from connector.scheduler import HEARTBEAT_SECONDS, last_heartbeat
from connector.storage.db import ping
from connector.storage.models import utcnow

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz():
    """The process is alive and serving; says nothing about dependencies."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz():
    """Ready when the database answers, a scheduler beats and the source is being pulled.

    Per platform it reports the last successful call and the last error (the source's pulls
    included). A failing destination is reported, not fatal: this process still serves
    tracking. A source not pulled successfully for ``schedule.stale_after_runs`` periods is:
    every figure downstream of it is going stale.
    """
    if _deep():
        return _doctor()
    rt = runtime()
    checks: dict[str, Any] = {}
    try:
        ping(rt.engine)
        checks["database"] = {"ok": True}
    except Exception as exc:  # any driver error means not ready
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        return jsonify({"status": "not_ready", "checks": checks}), 503
    ready = True
    now = utcnow()
    if rt.settings.schedule.enabled:
        beat = last_heartbeat(rt)
        age = (now - beat).total_seconds() if beat else None
        alive = age is not None and age < 3 * HEARTBEAT_SECONDS
        ready = ready and alive
        checks["scheduler"] = {"ok": alive, "last_heartbeat_age_seconds": age}
    with rt.sessions() as session:
        recorded = health.read_all(session)
    checks["platforms"] = {name: h.as_dict(now) for name, h in sorted(recorded.items())}
    for name in rt.settings.platforms.enabled():
        checks["platforms"].setdefault(name, health.PlatformHealth(name).as_dict(now))
    source = _source_check(rt, recorded, now)
    if source is not None:
        checks["source"] = source
        ready = ready and source["ok"]
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return jsonify(body), 200 if ready else 503


def _deep() -> bool:
    """``deep=1`` asks for the doctor; ``0`` or absent for the plain check; else a 400."""
    value = request.args.get("deep")
    if value is None or value == "0":
        return False
    if value != "1":
        raise ApiError(400, "invalid_request", [{"field": "deep", "message": "must be 0 or 1"}])
    return True


def _doctor():
    """The doctor's live checks, behind the trigger token: 200 if all pass, else 503."""
    require_token(trigger_token())
    from connector.doctor import run_doctor

    report = run_doctor(runtime())
    return jsonify(report.as_dict()), 200 if report.ok else 503


def _source_check(
    rt: Runtime, recorded: dict[str, health.PlatformHealth], now: datetime
) -> dict[str, Any] | None:
    """Is the revenue source being pulled? None when it is off or syncs are not scheduled."""
    crm = rt.profile.crm
    limit = health.stale_after(rt.settings.schedule, now)
    if limit is None or crm not in rt.settings.platforms.enabled():
        return None
    state = recorded.get(crm)
    stale = health.source_stale(state, limit, now)
    return {
        "ok": not stale,
        "platform": crm,
        "stale_after_seconds": limit.total_seconds(),
        "last_success_age_seconds": state.as_dict(now)["last_success_age_seconds"]
        if state
        else None,
        "last_error": state.last_error if state else None,
    }


def require_token(configured: str | None) -> None:
    """Bearer-token check in constant time; 401 when missing or wrong, 403 when not set up."""
    if not configured:
        raise ApiError(403, "forbidden", "server.trigger_token is not configured")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        token.strip().encode(), configured.encode()
    ):
        raise ApiError(
            401,
            "unauthorized",
            "send Authorization: Bearer <server.trigger_token>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def trigger_token() -> str | None:
    """The configured trigger token, if any."""
    token = runtime().settings.server.trigger_token
    return token.get_secret_value() if token else None


@blueprint.post("/trigger")
def trigger():
    """Start a sync now; 202 with the run id, 409 if one is already running."""
    require_token(trigger_token())
    dry_run = _dry_run(json_object(request))
    try:
        run_id = runs().start_background("manual", dry_run=dry_run)
    except LeaseHeld as held:
        raise ApiError(409, "run_in_progress", str(held)) from None
    return jsonify({"run_id": run_id, "status": "running", "url": f"/runs/{run_id}"}), 202


def _dry_run(body: dict[str, Any]) -> bool:
    """``dry_run`` from the body: a JSON boolean, or absent (false)."""
    value = body.get("dry_run", False)
    if not isinstance(value, bool):
        raise ApiError(
            400, "invalid_request", [{"field": "dry_run", "message": "must be a boolean"}]
        )
    return value


@blueprint.get("/runs/<int:run_id>")
def run_status(run_id: int):
    """A run's status, counts and per-platform summary (same token as /trigger)."""
    require_token(trigger_token())
    if run_id > MAX_ROW_ID:  # no such row, and more than the database's integers can hold
        raise ApiError(404, "not_found", f"no run with id {run_id}")
    run = get_run(runtime(), run_id)
    if run is None:
        raise ApiError(404, "not_found", f"no run with id {run_id}")
    return jsonify(run_as_dict(run))
