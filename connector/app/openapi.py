"""The OpenAPI 3.1 document at /openapi.json; each blueprint registers its own paths."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from connector import __version__

blueprint = Blueprint("openapi", __name__)

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "detail": {}},
}


def error_responses(*codes: int) -> dict[str, Any]:
    """Standard JSON error responses for the given status codes."""
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(c): {"description": "error", "content": content} for c in codes}


RUN = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "trigger": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["running", "succeeded", "partial", "failed", "abandoned"],
        },
        "dry_run": {"type": "boolean"},
        "started_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "counts": {"type": "object"},
        "summary": {"type": "object"},
        "error": {"type": ["string", "null"]},
        "platform_errors": {
            "type": "object",
            "description": "why each failing platform failed in this run, with the fix",
            "additionalProperties": {"type": "string"},
        },
    },
}
BEARER = [{"bearer": []}]

PATHS: dict[str, dict[str, Any]] = {
    "/openapi.json": {
        "get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}
    },
    "/healthz": {
        "get": {"summary": "Process is alive", "responses": {"200": {"description": "ok"}}}
    },
    "/readyz": {
        "get": {
            "summary": "Database, scheduler, source freshness; last success and error per platform",
            "description": (
                "With `deep=1` it runs `closedloop doctor` instead: live read-only checks of the "
                "store and every enabled platform, answered as `{status, checks: [{platform, "
                "check, status, detail, fix}]}`; that needs the trigger token."
            ),
            # No token for the plain check; the bearer token for deep=1.
            "security": [{}, *BEARER],
            "parameters": [
                {
                    "name": "deep",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "enum": ["0", "1"]},
                    "description": "1: run the doctor's live checks (trigger token required)",
                }
            ],
            "responses": {
                "200": {"description": "ready (deep: every check passed)"},
                "503": {"description": "not ready (deep: a check failed)"},
                **error_responses(400, 401, 403),
            },
        }
    },
    "/trigger": {
        "post": {
            "summary": "Start a sync now",
            "security": BEARER,
            "requestBody": {
                "required": False,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"dry_run": {"type": "boolean"}}}
                    }
                },
            },
            "responses": {
                "202": {"description": "started; body has run_id"},
                **error_responses(400, 401, 403, 409),
            },
        }
    },
    "/runs/{run_id}": {
        "get": {
            "summary": "A run's status and counts",
            "security": BEARER,
            "parameters": [
                {
                    "name": "run_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
                }
            ],
            "responses": {
                "200": {
                    "description": "the run",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Run"}}
                    },
                },
                **error_responses(401, 403, 404),
            },
        }
    },
}
SCHEMAS: dict[str, Any] = {"Error": ERROR, "Run": RUN}


def register(paths: dict[str, Any], schemas: dict[str, Any] | None = None) -> None:
    """Add a blueprint's paths (and component schemas) to the document."""
    PATHS.update(paths)
    SCHEMAS.update(schemas or {})


def document() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "closedloop", "version": __version__},
        "paths": dict(sorted(PATHS.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@blueprint.get("/openapi.json")
def openapi_json():
    """Serve the document."""
    return jsonify(document())
