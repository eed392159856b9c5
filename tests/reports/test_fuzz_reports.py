"""Schemathesis fuzzes the report API and the dashboard's forms from /openapi.json: no 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from reports_conftest import DASHBOARD_TOKEN
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

OPERATIONS = [
    ("/api/reports/sources", "GET"),
    ("/api/reports/delivery", "GET"),
    ("/dashboard/login", "POST"),
    ("/dashboard/logout", "POST"),
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_server_errors(report_app, path, method, mode):
    """Generated dates, ranges, choices and form fields never make these answer 5xx."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", report_app)
    operation = schema[path][method]
    seen: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        headers = {"Authorization": f"Bearer {DASHBOARD_TOKEN}"}
        response = case.call_and_validate(checks=[not_a_server_error], headers=headers)
        seen.append(response.status_code)

    fuzz()
    assert seen and max(seen) < 500
