"""Ops endpoints: liveness, readiness, manual trigger and run status."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from connector.app.body import MAX_ROW_ID, json_object
from connector.app.context import runs, runtime
from connector.app.errors import ApiError
from connector.errors import LeaseHeld
from connector.runs import get_run, run_as_dict
from connector.scheduler import HEARTBEAT_SECONDS, last_heartbeat
from connector.storage.db import ping
from connector.storage.models import PlatformStatus, utcnow

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz():
    """The process is alive and serving; says nothing about dependencies."""
    return jsonify({"status": "ok"})


@blueprint.get("/readyz")
def readyz():
    """Ready when the database answers and a scheduler is beating (if scheduling is on)."""
    rt = runtime()
    checks: dict[str, Any] = {}
    ready = True
    try:
        ping(rt.engine)
        checks["database"] = {"ok": True}
    except Exception as exc:  # any driver error means not ready
        ready = False
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        return jsonify({"status": "not_ready", "checks": checks}), 503
    if rt.settings.schedule.enabled:
        beat = last_heartbeat(rt)
        age = (utcnow() - beat).total_seconds() if beat else None
        alive = age is not None and age < 3 * HEARTBEAT_SECONDS
        ready = ready and alive
        checks["scheduler"] = {"ok": alive, "last_heartbeat_age_seconds": age}
    with rt.sessions() as session:
        statuses = session.scalars(select(PlatformStatus)).all()
    checks["platforms"] = {
        s.platform: {
            "last_run_id": s.last_run_id,
            "last_success_age_seconds": (utcnow() - s.last_success_at).total_seconds()
            if s.last_success_at
            else None,
            "last_error": s.last_error,
        }
        for s in statuses
    }
    for name in rt.settings.platforms.enabled():
        checks["platforms"].setdefault(
            name, {"last_run_id": None, "last_success_age_seconds": None, "last_error": None}
        )
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return jsonify(body), 200 if ready else 503


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
