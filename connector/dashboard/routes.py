"""``/dashboard``: the reports for people, with charts, behind a login; no CDN needed."""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
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
from connector.cli.output import write_csv
from connector.dashboard import (
    empty,
    headers,
    lifecycle,
    panels,
    revenue_upload,
    sessions,
    throttle,
)
from connector.dashboard.auth import check_login, csrf_ok, csrf_token, login_configured
from connector.dashboard.colours import colours
from connector.dashboard.memo import once, prefetch
from connector.dashboard.money import money
from connector.dashboard.presets import PRESETS
from connector.dashboard.view import FILTER_PREFIX, LEVEL_LABELS, View, read_view
from connector.errors import LeaseHeld
from connector.outbox.admin import requeue
from connector.reports import DIMENSIONS, MODELS, jsonable
from connector.reports.funnel import COSTS as FUNNEL_COSTS
from connector.reports.funnel import RATES as FUNNEL_RATES
from connector.reports.funnel import STAGES as FUNNEL_STAGES
from connector.reports.kpis import display, visible_kpis
from connector.runs import latest_runs, run_as_dict
from connector.storage.models import Conversion, utcnow

blueprint = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)


def _login_page(error: str | None, status: int = 200, headers: dict | None = None):
    page = render_template("login.html", error=error, csrf=csrf_token())
    return page, status, headers or {}


def _view() -> View:
    """The view the URL asks for (the configured model by default)."""
    model = runtime().settings.attribution.model
    return read_view(request.args, utcnow().date(), model=model)


@blueprint.get("/")
def index():
    """The dashboard (or the login form)."""
    settings = runtime().settings
    if not login_configured(settings.dashboard):
        return render_template("dashboard_closed.html"), 403
    if not sessions.current_user():
        return _login_page(None)
    view = _view()
    builders = (
        panels.sources,
        panels.opportunities,
        panels.delivery,
        panels.models,
        panels.timeline,
        lifecycle.paths,
        lifecycle.funnel,
        lifecycle.velocity,
    )
    prefetch(builders, view)  # side by side, before this request holds a connection
    with runtime().read_sessions() as db:
        sources = once(panels.sources, db, view)
        opportunities = once(panels.opportunities, db, view)
        delivery = once(panels.delivery, db, view)
        models = once(panels.models, db, view)
        timeline = once(panels.timeline, db, view)
        paths = once(lifecycle.paths, db, view)
        funnel = once(lifecycle.funnel, db, view)
        velocity = once(lifecycle.velocity, db, view)
        failing = health.failing(db)
        dead = db.execute(
            select(Conversion.destination, Conversion.reason_code, func.count())
            .where(Conversion.status == "dead")
            .group_by(Conversion.destination, Conversion.reason_code)
        ).all()
    recent = [run_as_dict(r) for r in latest_runs(runtime(), 10)]
    currency = sources["currency"]
    groups = [r["group"] for r in sources["rows"]]
    charts = {
        "currency": currency,
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
        "stages": [{"key": k, "label": label} for k, label in FUNNEL_STAGES],
        "funnel_rows": [
            {"group": r["group"], **{k: r[k] for k, _ in FUNNEL_STAGES}} for r in funnel["rows"]
        ],
        "velocity": {
            "measures": velocity["measures"],
            "rows": [
                {"group": r["group"], **{m: r[m]["median_days"] for m in velocity["measures"]}}
                for r in velocity["rows"]
            ],
        },
        "paths": [
            {"label": p["label"], "conversions": p["conversions"], "last": p["path"][-1]}
            for p in paths["paths"][:10]
            if p["path"]
        ],
        "colours": colours(
            [
                *groups,
                *timeline["series"],
                *(r["group"] for r in funnel["rows"]),
                *(step for p in paths["paths"] for step in p["path"]),
            ]
        ),
    }
    empties = {
        "sources": empty.sources(sources),
        "spend": empty.spend(sources),
        "opportunities": empty.opportunities(opportunities),
        "models": empty.models(models),
        "delivery": empty.delivery(delivery),
        "timeline": empty.timeline(timeline["series"], sources),
        "paths": empty.paths(paths),
        "funnel": empty.funnel(funnel),
        "velocity": empty.velocity(velocity),
    }
    return render_template(
        "dashboard.html",
        view=view,
        sources=sources,
        summary=panels.summary(sources) if view.compare else None,
        opportunities=opportunities,
        delivery=delivery,
        models=models,
        paths=paths,
        funnel=funnel,
        funnel_stages=FUNNEL_STAGES,
        funnel_rates=list(FUNNEL_RATES),
        funnel_costs=list(FUNNEL_COSTS),
        velocity=velocity,
        charts=jsonable(charts),
        empties=empties,
        recent=recent,
        failing=failing,
        dead=dead,
        kpis=visible_kpis(sources),
        display=display,
        money=lambda value: money(value, currency),
        dimensions=DIMENSIONS,
        levels=LEVEL_LABELS,
        presets=PRESETS,
        filter_prefix=FILTER_PREFIX,
        all_models=MODELS,
        by=view.by,
        model=view.model,
        touch=view.touch,
        rng=view.rng,
        csrf=csrf_token(),
        # Only the server's own flash messages: text from the URL would be a spoofed notice.
        notices=get_flashed_messages(),
        range_notice=view.notice,
    )


@blueprint.get("/export/<name>.csv")
def export(name: str):
    """A table of the dashboard as CSV: the CLI's ``--format csv`` file for the same view."""
    if not sessions.current_user():
        raise ApiError(401, "unauthorized", "log in at /dashboard")
    if name not in panels.EXPORTS:
        raise ApiError(
            404, "not_found", f"name: no table {name!r}; use one of {', '.join(panels.EXPORTS)}"
        )
    view = _view()
    build, sheet = panels.EXPORTS[name]
    with runtime().read_sessions() as db:
        data = once(build, db, view)
    filename = f"closedloop-{name}-{view.rng.start.isoformat()}-{view.rng.end.isoformat()}.csv"
    return Response(
        write_csv(sheet(data)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
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
            "/dashboard/export/{name}.csv": {
                "get": {
                    "summary": "A dashboard table as CSV (the CLI's --format csv for the view)",
                    "parameters": [
                        {
                            "name": "name",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "enum": list(panels.EXPORTS)},
                        }
                    ],
                    "responses": {
                        "200": {"description": "text/csv"},
                        **error_responses(401, 404),
                    },
                }
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
