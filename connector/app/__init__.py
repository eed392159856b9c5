"""Flask application factory: tracking, ops, webhooks, reports and dashboard blueprints."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from connector.app import errors, ops
from connector.app.bodyguard import UPLOADS, BodyGuard
from connector.app.openapi import blueprint as openapi_blueprint
from connector.config import Settings
from connector.runs import RunService
from connector.runtime import Runtime

EXTENSION = "closedloop"


def create_app(
    settings: Settings | None = None, *, runtime: Runtime | None = None, upgrade: bool = True
) -> Flask:
    """Build the app for ``settings`` (or around an existing runtime, as tests and serve do)."""
    if runtime is None:
        runtime = Runtime.from_settings(settings or Settings(), upgrade=upgrade)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.server.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions[EXTENSION] = runtime
    app.extensions["closedloop.runs"] = RunService(runtime)
    errors.init_app(app)
    app.register_blueprint(ops.blueprint)
    app.register_blueprint(openapi_blueprint)
    for register in _optional_blueprints():
        register(app)
    # Outermost, so that every body is read whole (or refused) before any view or fast path.
    app.wsgi_app = BodyGuard(  # type: ignore[method-assign]
        app.wsgi_app, runtime.settings.server.max_body_bytes, app.extensions.get(UPLOADS)
    )
    _behind_proxies(app, runtime.settings.server.trusted_proxies)
    return app


def _behind_proxies(app: Flask, hops: int) -> None:
    """Believe ``hops`` proxies' X-Forwarded-For/-Proto/-Host; with 0, nobody's.

    Outermost of all, so the body guard, the /collect fast path, rate limits, the IP kept for
    Meta, HTTPS detection (secure cookies) and the webhook's signed URL all see the client's
    address, scheme and host instead of the proxy's.
    """
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )


def _optional_blueprints() -> list:
    """Blueprints of the other parts (tracking, webhooks, reports, dashboard), when present."""
    registrars = []
    for module_name in (
        "connector.tracking.routes",
        "connector.sync.webhook",
        "connector.revenue.routes",
        "connector.reports.routes",
        "connector.dashboard.routes",
        "connector.metrics",
    ):
        try:
            module = __import__(module_name, fromlist=["init_app"])
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        registrars.append(module.init_app)
    return registrars
