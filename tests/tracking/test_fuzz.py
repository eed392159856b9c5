"""Schemathesis fuzzes /collect, /identify and /privacy/forget from /openapi.json: no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from connector.tracking.routes import WORKER

AUTH = {"Authorization": "Bearer test-trigger-token"}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("path", ["/collect", "/identify", "/privacy/forget"])
def test_no_server_errors(make_client, path, mode):
    """Generated valid and invalid bodies never make a tracking endpoint answer 5xx."""
    client, _ = make_client({"server": {"rate_limit_per_minute": 1_000_000}})
    client.application.extensions[WORKER].autostart = False
    schema = schemathesis.openapi.from_wsgi("/openapi.json", client.application)
    operation = schema[path]["POST"]
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=50,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        response = case.call_and_validate(checks=[not_a_server_error], headers=AUTH)
        seen.append(response.status_code)

    fuzz()
    assert seen and max(seen) < 500
