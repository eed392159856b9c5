"""Access to the process runtime from inside a request."""

from __future__ import annotations

from flask import current_app

from connector.runs import RunService
from connector.runtime import Runtime


def runtime() -> Runtime:
    """The runtime the app was built around."""
    return current_app.extensions["closedloop"]


def runs() -> RunService:
    """The run service (lease + pipeline) of this app."""
    return current_app.extensions["closedloop.runs"]
