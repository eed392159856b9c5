"""The lifecycle panels' reports for one view: conversion paths, so far.

Paths follow the channel filter (the channel credited under the model), as GA4's path
exploration does; deeper drill filters do not apply to them and the page says so.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from connector.app.context import runtime
from connector.dashboard.view import View
from connector.reports.paths import PATH_MODELS, conversion_paths, path_options


def paths(db: Session, view: View) -> dict[str, Any]:
    """Top paths to the view's target, credited to its channel filter if it has one."""
    model = view.model if view.model in PATH_MODELS else "last_click"
    return conversion_paths(
        db,
        view.rng,
        target=view.target,
        model=model,
        channel=view.where.get("channel"),
        **path_options(runtime().settings),
    )
