"""``/dashboard``: the reports for people, with charts, behind a login; no CDN needed."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from connector import health
from connector.app.context import runs, runtime
from connector.app.errors import ApiError
from connector.dashboard.auth import check_login, csrf_ok, csrf_token, login_configured
from connector.errors import LeaseHeld
from connector.outbox.admin import requeue
from connector.reports import (
    DIMENSIONS,
    MODELS,
    ReportRange,
    default_range,
    delivery_report,
    jsonable,
    model_comparison,
    opportunity_report,
    source_report,
    source_report_options,
)
from connector.reports.kpis import KPIS, display
from connector.reports.timeline import revenue_over_time
from connector.runs import latest_runs, run_as_dict
from connector.storage.models import Conversion, utcnow

blueprint = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)


def _range() -> ReportRange:
    fallback = default_range(utcnow().date())
    try:
        start = date.fromisoformat(request.args.get("from") or fallback.start.isoformat())
        end = date.fromisoformat(request.args.get("to") or fallback.end.isoformat())
    except ValueError:
        return fallback
    return ReportRange(min(start, end), max(start, end))


@blueprint.get("/")
def index():
    """The dashboard (or the login form)."""
    settings = runtime().settings
    if not login_configured(settings.dashboard):
        return render_template("dashboard_closed.html"), 403
    if not session.get("user"):
        return render_template("login.html", error=None, csrf=csrf_token())
    rng = _range()
    by = request.args.get("by") if request.args.get("by") in DIMENSIONS else "channel"
    model = request.args.get("model")
    model = model if model in MODELS else settings.attribution.model
    touch = "last" if request.args.get("touch") == "last" else "first"
    money = {"currency": settings.currency, "fx_rates": settings.reports.fx_rates}
    with runtime().sessions() as db:
        sources = source_report(
            db,
            rng,
            by=by,
            model=model,
            **source_report_options(settings, runtime().profile),
        )
        opportunities = opportunity_report(db, rng, touch=touch)
        delivery = delivery_report(db, rng, **money)
        models = model_comparison(db, rng, by=by, **money)
        timeline = revenue_over_time(db, rng, model=model, **money)
        failing = health.failing(db)
        dead = db.execute(
            select(Conversion.destination, Conversion.reason_code, func.count())
            .where(Conversion.status == "dead")
            .group_by(Conversion.destination, Conversion.reason_code)
        ).all()
    recent = [run_as_dict(r) for r in latest_runs(runtime(), 10)]
    charts = {
        "by_group": [
            {"group": r["group"], "revenue": r["revenue"], "spend": r["spend"]}
            for r in sources["rows"]
        ],
        "funnel": [
            {
                "group": r["group"],
                "leads": r["leads"],
                "opportunities": r["opportunities"],
                "won": r["won_deals"],
            }
            for r in sources["rows"]
        ],
        "timeline": timeline,
    }
    return render_template(
        "dashboard.html",
        sources=sources,
        opportunities=opportunities,
        delivery=delivery,
        models=models,
        charts=jsonable(charts),
        recent=recent,
        failing=failing,
        dead=dead,
        kpis=[k for k in KPIS if sources["lifecycle_mapped"] or k.key != "mql_to_sql"],
        display=display,
        dimensions=DIMENSIONS,
        all_models=MODELS,
        by=by,
        model=model,
        touch=touch,
        rng=rng,
        csrf=csrf_token(),
        message=request.args.get("message"),
    )


@blueprint.post("/login")
def login():
    """Check the credentials and start a session."""
    settings = runtime().settings.dashboard
    if not login_configured(settings):
        raise ApiError(403, "forbidden", "dashboard login is not configured")
    if not csrf_ok(request.form.get("csrf")):
        return render_template(
            "login.html", error="Session expired, try again.", csrf=csrf_token()
        ), 400
    if not check_login(
        settings, request.form.get("username", ""), request.form.get("password", "")
    ):
        return render_template(
            "login.html", error="Wrong username or password.", csrf=csrf_token()
        ), 401
    session.clear()
    session["user"] = request.form.get("username") or "token"
    return redirect(url_for("dashboard.index"))


@blueprint.post("/logout")
def logout():
    """End the session."""
    session.clear()
    return redirect(url_for("dashboard.index"))


def _require_user_and_csrf() -> None:
    if not session.get("user"):
        raise ApiError(401, "unauthorized", "log in at /dashboard")
    if not csrf_ok(request.form.get("csrf")):
        raise ApiError(400, "invalid_request", "csrf: missing or wrong form token")


@blueprint.post("/trigger")
def trigger():
    """The 'Sync now' button."""
    _require_user_and_csrf()
    try:
        run_id = runs().start_background("dashboard")
        message = f"Sync started (run {run_id})."
    except LeaseHeld:
        message = "A sync is already running."
    return redirect(url_for("dashboard.index", message=message))


@blueprint.post("/retry")
def retry():
    """The 'Retry dead letters' button: dead conversions go back to the queue."""
    _require_user_and_csrf()
    count = requeue(runtime().sessions, now=utcnow())
    return redirect(url_for("dashboard.index", message=f"{count} dead letters re-queued."))


def init_app(app: Flask) -> None:
    """Register the dashboard; sessions are signed with ``dashboard.secret_key``."""
    import secrets

    settings = app.extensions["closedloop"].settings.dashboard
    key = settings.secret_key.get_secret_value() if settings.secret_key else None
    # A random key per process is fine for one process; several workers need a shared key.
    app.secret_key = key or app.secret_key or secrets.token_hex(32)
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.register_blueprint(blueprint)

    from connector.app.openapi import register

    html = {"200": {"description": "HTML page"}}
    register(
        {
            "/dashboard/": {
                "get": {"summary": "Dashboard (HTML, login required)", "responses": html}
            },
            "/dashboard/login": {"post": {"summary": "Dashboard login form", "responses": html}},
            "/dashboard/logout": {"post": {"summary": "Dashboard logout", "responses": html}},
            "/dashboard/trigger": {"post": {"summary": "Dashboard: sync now", "responses": html}},
            "/dashboard/retry": {
                "post": {"summary": "Dashboard: retry dead letters", "responses": html}
            },
            "/dashboard/static/{filename}": {
                "get": {
                    "summary": "Dashboard assets (shipped, no CDN)",
                    "parameters": [
                        {
                            "name": "filename",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "file"}},
                }
            },
        }
    )
