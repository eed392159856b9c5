"""``/dashboard``: the reports for people, with charts, behind a login; no CDN needed."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select

from connector import health
from connector.app.context import runs, runtime
from connector.app.errors import ApiError
from connector.dashboard import headers, revenue_upload, sessions, throttle
from connector.dashboard.auth import check_login, csrf_ok, csrf_token, login_configured
from connector.errors import LeaseHeld
from connector.outbox.admin import requeue
from connector.reports import (
    DIMENSIONS,
    MODELS,
    RangeError,
    ReportRange,
    default_range,
    delivery_report,
    jsonable,
    model_comparison,
    opportunity_report,
    parse_range,
    source_report,
    source_report_options,
)
from connector.reports.data_driven import learning_options
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


def _range() -> tuple[ReportRange, str | None]:
    """The range asked for, or the default one and a notice saying what was wrong."""
    today = utcnow().date()
    try:
        rng = parse_range(
            request.args.get("from") or None, request.args.get("to") or None, today=today
        )
    except RangeError as exc:
        return default_range(today), f"{exc}; showing the last 30 days instead."
    return rng, None


def _login_page(error: str | None, status: int = 200, headers: dict | None = None):
    page = render_template("login.html", error=error, csrf=csrf_token())
    return page, status, headers or {}


@blueprint.get("/")
def index():
    """The dashboard (or the login form)."""
    settings = runtime().settings
    if not login_configured(settings.dashboard):
        return render_template("dashboard_closed.html"), 403
    if not sessions.current_user():
        return _login_page(None)
    rng, range_notice = _range()
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
        models = model_comparison(db, rng, by=by, **money, **learning_options(settings))
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
        # Only the server's own flash messages: text from the URL would be a spoofed notice.
        notices=get_flashed_messages(),
        range_notice=range_notice,
    )


@blueprint.post("/login")
def login():
    """Check the credentials and start a session (throttled per address and per user)."""
    settings = runtime().settings.dashboard
    if not login_configured(settings):
        raise ApiError(403, "forbidden", "dashboard login is not configured")
    username = request.form.get("username", "")
    keys = [throttle.by_address(request.remote_addr), throttle.by_user(username)]
    wait = throttle.wait_seconds(runtime().engine, keys)
    if wait:
        return _too_many(wait)
    if not csrf_ok(request.form.get("csrf")):
        return _login_page("Session expired, try again.", 400)
    if not check_login(settings, username, request.form.get("password", "")):
        wait = throttle.record_failure(runtime().engine, keys)
        if wait:
            return _too_many(wait, "Wrong username or password. ")
        return _login_page("Wrong username or password.", 401)
    throttle.clear(runtime().engine, keys)
    sessions.start(username or "token")
    return redirect(url_for("dashboard.index"))


def _too_many(wait: int, prefix: str = ""):
    message = f"{prefix}Too many failed log-ins: try again in {wait} s."
    return _login_page(message, 429, {"Retry-After": str(wait)})


@blueprint.post("/logout")
def logout():
    """End the session, here and on every other process (the form's CSRF token is required)."""
    if not csrf_ok(request.form.get("csrf")):
        raise ApiError(400, "invalid_request", "csrf: missing or wrong form token")
    sessions.end()
    return redirect(url_for("dashboard.index"))


def _require_user_and_csrf() -> None:
    if not sessions.current_user():
        raise ApiError(401, "unauthorized", "log in at /dashboard")
    if not csrf_ok(request.form.get("csrf")):
        raise ApiError(400, "invalid_request", "csrf: missing or wrong form token")


@blueprint.post("/trigger")
def trigger():
    """The 'Sync now' button."""
    _require_user_and_csrf()
    try:
        run_id = runs().start_background("dashboard")
        flash(f"Sync started (run {run_id}).")
    except LeaseHeld:
        flash("A sync is already running.")
    return redirect(url_for("dashboard.index"))


@blueprint.post("/retry")
def retry():
    """The 'Retry dead letters' button: dead conversions go back to the queue."""
    _require_user_and_csrf()
    count = requeue(runtime().sessions, now=utcnow())
    flash(f"{count} dead letters re-queued.")
    return redirect(url_for("dashboard.index"))


def _form(*fields: str) -> dict:
    """An OpenAPI request body: an HTML form of string fields."""
    properties = {name: {"type": "string"} for name in fields}
    schema = {"type": "object", "properties": properties, "required": ["csrf"]}
    return {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": schema}},
    }


def init_app(app: Flask) -> None:
    """Register the dashboard, its sessions and its response headers (see those modules)."""
    sessions.init_app(app)
    headers.init_app(app)
    app.register_blueprint(blueprint)
    revenue_upload.init_app(app)

    from connector.app.openapi import error_responses, register

    html = {"200": {"description": "HTML page"}}
    register(
        {
            "/dashboard/": {
                "get": {"summary": "Dashboard (HTML, login required)", "responses": html}
            },
            "/dashboard/login": {
                "post": {
                    "summary": "Dashboard login form (throttled: 429 with Retry-After)",
                    "requestBody": _form("csrf", "username", "password"),
                    "responses": {
                        "302": {"description": "logged in: to the dashboard"},
                        "400": {"description": "HTML page: the form's CSRF token is stale"},
                        "401": {"description": "HTML page: wrong username or password"},
                        "429": {"description": "HTML page: too many failed log-ins"},
                        **error_responses(403),
                    },
                }
            },
            "/dashboard/logout": {
                "post": {
                    "summary": "Dashboard logout (needs the form's CSRF token)",
                    "requestBody": _form("csrf"),
                    "responses": {
                        "302": {"description": "logged out: to the login form"},
                        **error_responses(400),
                    },
                }
            },
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
