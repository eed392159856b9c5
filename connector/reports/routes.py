"""``/api/reports/...``: the reports as JSON for scripts and the dashboard."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, request

from connector.app.context import runtime
from connector.app.errors import ApiError
from connector.app.openapi import error_responses, register
from connector.reports import (
    DIMENSIONS,
    MODELS,
    RangeError,
    ReportRange,
    delivery_report,
    jsonable,
    model_comparison,
    opportunity_report,
    parse_range,
    source_report_options,
)
from connector.reports.auth import require_reader
from connector.reports.data_driven import learning_options
from connector.reports.drill import DrillError, drilled_source_report
from connector.storage.models import utcnow

blueprint = Blueprint("reports", __name__, url_prefix="/api/reports")


def _range() -> ReportRange:
    try:
        return parse_range(request.args.get("from"), request.args.get("to"), today=utcnow().date())
    except RangeError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


def _choice(name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.args.get(name, default)
    if value not in allowed:
        raise ApiError(400, "invalid_request", f"{name}: must be one of {', '.join(allowed)}")
    return value


def _money_args() -> dict:
    settings = runtime().settings
    return {"currency": settings.currency, "fx_rates": settings.reports.fx_rates}


@blueprint.get("/sources")
def sources():
    """The source report for a range, grouping and model."""
    require_reader()
    rng = _range()
    by = _choice("by", DIMENSIONS, "channel")
    model = _choice("model", MODELS, runtime().settings.attribution.model)
    # Drill-down: ?channel=Paid Search&by=source_medium is that channel's rows.
    where = {d: request.args[d] for d in DIMENSIONS if d in request.args}
    options = source_report_options(runtime().settings, runtime().profile)
    with runtime().sessions() as session:
        try:
            report = drilled_source_report(session, rng, by=by, model=model, where=where, **options)
        except DrillError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
    return jsonify(jsonable(report))


@blueprint.get("/opportunities")
def opportunities():
    """Deals by stage and first/last-touch source, with stage-to-stage conversion."""
    require_reader()
    rng = _range()
    touch = _choice("touch", ("first", "last"), "first")
    by = _choice("by", ("channel", "source"), "channel")
    with runtime().sessions() as session:
        report = opportunity_report(session, rng, touch=touch, by=by)
    return jsonify(jsonable(report))


@blueprint.get("/delivery")
def delivery():
    """Per-platform delivery status, reasons, daily counts and match rates."""
    require_reader()
    rng = _range()
    with runtime().sessions() as session:
        report = delivery_report(session, rng, **_money_args())
    return jsonify(jsonable(report))


@blueprint.get("/models")
def models():
    """Revenue per group under every attribution model side by side."""
    require_reader()
    rng = _range()
    by = _choice("by", DIMENSIONS, "channel")
    with runtime().sessions() as session:
        report = model_comparison(
            session, rng, by=by, **_money_args(), **learning_options(runtime().settings)
        )
    return jsonify(jsonable(report))


def _params(*extra: dict) -> list[dict]:
    date_param = {"type": "string", "format": "date"}
    base = [
        {"name": "from", "in": "query", "schema": date_param},
        {"name": "to", "in": "query", "schema": date_param},
    ]
    return base + list(extra)


def _enum(name: str, values: tuple[str, ...]) -> dict:
    return {"name": name, "in": "query", "schema": {"type": "string", "enum": list(values)}}


def _op(summary: str, params: list[dict]) -> dict:
    return {
        "get": {
            "summary": summary,
            "security": [{"bearer": []}],
            "parameters": params,
            "responses": {"200": {"description": "the report"}, **error_responses(400, 401, 429)},
        }
    }


def init_app(app: Flask) -> None:
    """Register the blueprint and its OpenAPI paths."""
    app.register_blueprint(blueprint)
    register(
        {
            "/api/reports/sources": _op(
                "Source report (a dimension parameter, e.g. channel=Paid Search, drills down)",
                _params(
                    _enum("by", DIMENSIONS),
                    _enum("model", MODELS),
                    *({"name": d, "in": "query", "schema": {"type": "string"}} for d in DIMENSIONS),
                ),
            ),
            "/api/reports/opportunities": _op(
                "Opportunity report",
                _params(_enum("touch", ("first", "last")), _enum("by", ("channel", "source"))),
            ),
            "/api/reports/delivery": _op("Delivery report", _params()),
            "/api/reports/models": _op("Model comparison", _params(_enum("by", DIMENSIONS))),
        }
    )
