"""Schemathesis over the whole of /openapi.json, CI-sized: no operation ever answers 5xx.

Every operation the document describes is fuzzed with schema-valid and schema-violating
requests (fixed seed, bounded examples) against the WSGI app on the test database, so setting
``CLOSEDLOOP_TEST_DATABASE_URL`` runs the same cases on PostgreSQL. The credentials are the
configured ones, so the fuzzer reaches past the token checks into the handlers.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from connector.tracking.routes import WORKER

AUTH = {"Authorization": "Bearer test-trigger-token"}
EXAMPLES = 25


@pytest.fixture
def fuzz_app(make_settings, make_app):
    """The app with every guarded endpoint configured, and no write-back thread."""
    app = make_app(
        make_settings(
            {
                "server": {"rate_limit_per_minute": 10_000_000},
                "schedule": {"enabled": False},
                "platforms": {"hubspot": {"enabled": False, "client_secret": "fuzz-secret"}},
                "dashboard": {"token": "dash-token", "secret_key": "s" * 32},
                # No run kicked by a fuzzed sale outlives the test.
                "revenue": {"sync_after_seconds": None},
            }
        )
    )
    app.extensions[WORKER].autostart = False
    return app


def _fuzz(operation, mode: GenerationMode, failures: list[str]) -> None:
    """Run ``EXAMPLES`` generated cases of one operation; 5xx answers go into ``failures``."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case) -> None:
        response = case.call(headers=AUTH)
        if response.status_code >= 500:
            failures.append(f"{operation.label}: {response.status_code} {case.as_curl_command()}")
        case.validate_response(response, checks=[not_a_server_error])

    try:
        fuzz()
    except Unsatisfiable:
        pass  # nothing to violate (no parameters or body): only positive cases exist
    except Exception as exc:  # collected, so one run reports every failing operation
        failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:300]}")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_5xx(fuzz_app, mode):
    """Generated requests to every documented operation get a non-5xx answer."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        _fuzz(operation, mode, failures)
    assert len(operations) >= 15
    assert failures == [], "\n".join(failures)
