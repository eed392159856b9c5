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
from connector.reports.funnel import MODES, funnel_report
from connector.reports.paths import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    PATH_MODELS,
    TARGETS,
    conversion_paths,
    path_options,
)
from connector.reports.period import COMPARISONS, with_previous
from connector.reports.velocity import velocity_report
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
    compare = _optional_choice("compare", COMPARISONS)
    # Drill-down: ?channel=Paid Search&by=source_medium is that channel's rows.
    where = {d: request.args[d] for d in DIMENSIONS if d in request.args}
    options = source_report_options(runtime().settings, runtime().profile)
    with runtime().read_sessions() as session:

        def run(period: ReportRange) -> dict:
            return drilled_source_report(
                session, period, by=by, model=model, where=where, **options
            )

        try:
            report = run(rng)
        except DrillError as exc:
            raise ApiError(400, "invalid_request", str(exc)) from None
        if compare:
            try:
                report = with_previous(report, run, rng)
            except RangeError as exc:
                raise ApiError(400, "invalid_request", str(exc)) from None
    return jsonify(jsonable(report))


def _optional_choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise ApiError(400, "invalid_request", f"{name}: must be one of {', '.join(allowed)}")
    return value


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, "invalid_request", f"limit: must be a whole number 1-{MAX_LIMIT}")
    return int(raw)


@blueprint.get("/paths")
def paths():
    """Top conversion paths (channel sequences) to won deals or leads."""
    require_reader()
    rng = _range()
    target = _choice("target", TARGETS, "deal")
    model = _choice("model", PATH_MODELS, _path_model())
    channel = request.args.get("channel") or None
    if channel is not None and len(channel) > 64:
        raise ApiError(400, "invalid_request", "channel: at most 64 characters")
    limit = _limit()
    settings = runtime().settings
    with runtime().read_sessions() as session:
        report = conversion_paths(
            session,
            rng,
            target=target,
            model=model,
            channel=channel,
            limit=limit,
            **path_options(settings),
        )
    return jsonify(jsonable(report))


def _path_model() -> str:
    model = runtime().settings.attribution.model
    return model if model in PATH_MODELS else "last_click"


@blueprint.get("/opportunities")
def opportunities():
    """Deals by stage and first/last-touch source, with stage-to-stage conversion."""
    require_reader()
    rng = _range()
    touch = _choice("touch", ("first", "last"), "first")
    by = _choice("by", ("channel", "source"), "channel")
    with runtime().read_sessions() as session:
        report = opportunity_report(session, rng, touch=touch, by=by)
    return jsonify(jsonable(report))


@blueprint.get("/delivery")
def delivery():
    """Per-platform delivery status, reasons, daily counts and match rates."""
    require_reader()
    rng = _range()
    with runtime().read_sessions() as session:
        report = delivery_report(session, rng, **_money_args())
    return jsonify(jsonable(report))


@blueprint.get("/models")
def models():
    """Revenue per group under every attribution model side by side."""
    require_reader()
    rng = _range()
    by = _choice("by", DIMENSIONS, "channel")
    with runtime().read_sessions() as session:
        report = model_comparison(
            session, rng, by=by, **_money_args(), **learning_options(runtime().settings)
        )
    return jsonify(jsonable(report))


@blueprint.get("/funnel")
def funnel():
    """Visitors → leads → MQL → SQL → opportunity → customer per group, rates and costs."""
    require_reader()
    rng = _range()
    by = _choice("by", DIMENSIONS, "channel")
    model = _choice("model", MODELS, runtime().settings.attribution.model)
    mode = _choice("mode", MODES, "period")
    with runtime().read_sessions() as session:
        report = funnel_report(
            session,
            rng,
            by=by,
            model=model,
            mode=mode,
            **source_report_options(runtime().settings, runtime().profile),
        )
    return jsonify(jsonable(report))


@blueprint.get("/velocity")
def velocity():
    """Median and p75 days lead→MQL→SQL→won and sales cycle per group."""
    require_reader()
    rng = _range()
    by = _choice("by", DIMENSIONS, "channel")
    model = _choice("model", MODELS, runtime().settings.attribution.model)
    ignore_direct = runtime().settings.attribution.ignore_direct
    with runtime().read_sessions() as session:
        report = velocity_report(session, rng, by=by, model=model, ignore_direct=ignore_direct)
    return jsonify(jsonable(report))


@blueprint.get("/lead-values")
def lead_values():
    """Per lead stage, source and month: the value sent at lead time against the revenue won."""
    from connector.reports.lead_values import GROUPINGS, default_start, lead_value_report

    require_reader()
    today = utcnow().date()
    try:
        start = request.args.get("from") or default_start(today).isoformat()
        rng = parse_range(start, request.args.get("to"), today=today)
    except RangeError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    by = _choice("by", GROUPINGS, "channel")
    currency = runtime().profile.lead_values.currency or runtime().settings.currency
    with runtime().read_sessions() as session:
        report = lead_value_report(session, rng, currency=currency, by=by, now=utcnow())
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
                    _enum("compare", COMPARISONS),
                    *({"name": d, "in": "query", "schema": {"type": "string"}} for d in DIMENSIONS),
                ),
            ),
            "/api/reports/opportunities": _op(
                "Opportunity report",
                _params(_enum("touch", ("first", "last")), _enum("by", ("channel", "source"))),
            ),
            "/api/reports/delivery": _op("Delivery report", _params()),
            "/api/reports/models": _op("Model comparison", _params(_enum("by", DIMENSIONS))),
            "/api/reports/paths": _op(
                "Conversion paths",
                _params(
                    _enum("target", TARGETS),
                    _enum("model", PATH_MODELS),
                    {"name": "channel", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                    },
                ),
            ),
            "/api/reports/funnel": _op(
                "Funnel: stages, stage-to-stage rates and costs per stage (period or cohort)",
                _params(_enum("by", DIMENSIONS), _enum("model", MODELS), _enum("mode", MODES)),
            ),
            "/api/reports/velocity": _op(
                "Velocity: median and p75 days between lifecycle stages, and sales cycle",
                _params(_enum("by", DIMENSIONS), _enum("model", MODELS)),
            ),
            "/api/reports/lead-values": _op(
                "Lead values: predicted at lead time against realised revenue",
                _params(_enum("by", ("channel", "campaign"))),
            ),
        }
    )
