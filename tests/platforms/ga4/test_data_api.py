"""The Data API sandbox through the official SDK, and GA4Sessions pulling from it."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests
from google.analytics.data_v1beta import BetaAnalyticsDataClient
from google.analytics.data_v1beta.types import (
    DateRange,
    Dimension,
    Metric,
    RunReportRequest,
)
from google.api_core import exceptions
from google.oauth2.credentials import Credentials

from connector.config.models import GA4Settings
from platforms.ga4.client import data_api_client
from platforms.ga4.sandbox import READONLY_SCOPE, GA4Sandbox
from platforms.ga4.sessions import GA4Sessions
from platforms.reporting import SessionsRow
from platforms.sandbox_kit import FaultPlan

START = date(2026, 10, 1)
SOURCES = [("google", "cpc", "brand"), ("facebook", "paid_social", "retargeting")]


def seed(sandbox: GA4Sandbox, days: int = 12) -> list[SessionsRow]:
    """Seed ``days`` x 2 rows with distinct numbers; return them as SessionsRows."""
    rows = []
    for offset in range(days):
        for n, (source, medium, campaign) in enumerate(SOURCES):
            day = START + timedelta(days=offset)
            sessions, engaged = 10 + offset * 3 + n, 5 + offset + n
            bounce = round(1 - engaged / sessions, 4)
            sandbox.add_sessions(day, source, medium, campaign, sessions, engaged, bounce)
            rows.append(
                SessionsRow(day, source, medium, campaign, sessions, engaged, Decimal(str(bounce)))
            )
    return rows


def report(property_id: str, **kwargs: object) -> RunReportRequest:
    return RunReportRequest(
        property=f"properties/{property_id}",
        dimensions=[Dimension(name="date"), Dimension(name="sessionSource")],
        metrics=[Metric(name="sessions")],
        date_ranges=[DateRange(start_date="2026-10-01", end_date="2026-10-31")],
        **kwargs,
    )


def google_status(error: exceptions.GoogleAPICallError) -> str:
    """The ``error.status`` of Google's JSON envelope the SDK raised from."""
    return error.response.json()["error"]["status"]  # type: ignore[union-attr]


@pytest.fixture
def client(ga4_settings: GA4Settings) -> BetaAnalyticsDataClient:
    """The official client built the way the connector builds it."""
    return data_api_client(ga4_settings)


def test_sessions_pulled_match_the_seed(ga4_settings: GA4Settings, sandbox: GA4Sandbox) -> None:
    """GA4Sessions yields exactly the seeded rows, over several pages."""
    expected = seed(sandbox)
    sandbox.add_sessions(date(2026, 11, 5), "google", "cpc", "brand", 99, 9, 0.9)  # out of range
    rows = list(GA4Sessions(ga4_settings, page_size=5).pull(START, date(2026, 10, 31)))
    assert sorted(rows, key=repr) == sorted(expected, key=repr)
    assert sandbox.report_requests == 5  # 24 rows in pages of 5


def test_offset_paging_and_row_count(client: BetaAnalyticsDataClient, sandbox: GA4Sandbox) -> None:
    """limit/offset page through rows; rowCount is the total, not the page size."""
    seed(sandbox)
    first = client.run_report(report(sandbox.property_id, limit=10))
    last = client.run_report(report(sandbox.property_id, limit=10, offset=20))
    assert first.row_count == last.row_count == 24
    assert (len(first.rows), len(last.rows)) == (10, 4)
    assert first.rows[0].dimension_values[0].value == "20261001"


def test_limit_over_250000_is_invalid_argument(
    client: BetaAnalyticsDataClient, sandbox: GA4Sandbox
) -> None:
    """The Data API refuses pages over 250,000 rows with INVALID_ARGUMENT."""
    with pytest.raises(exceptions.BadRequest, match="250,000") as failure:
        client.run_report(report(sandbox.property_id, limit=250_001))
    assert google_status(failure.value) == "INVALID_ARGUMENT"
    assert client.run_report(report(sandbox.property_id, limit=250_000)).row_count == 0


def test_unknown_dimension_is_invalid_argument(
    client: BetaAnalyticsDataClient, sandbox: GA4Sandbox
) -> None:
    """A dimension the API does not know is a 400 INVALID_ARGUMENT naming it."""
    request = report(sandbox.property_id)
    request.dimensions.append(Dimension(name="sessionKeyword"))
    with pytest.raises(exceptions.BadRequest, match="sessionKeyword") as failure:
        client.run_report(request)
    assert google_status(failure.value) == "INVALID_ARGUMENT"


def test_other_property_is_permission_denied(
    client: BetaAnalyticsDataClient, sandbox: GA4Sandbox
) -> None:
    """A property the credentials cannot read is PERMISSION_DENIED."""
    with pytest.raises(exceptions.Forbidden) as failure:
        client.run_report(report("999"))
    assert google_status(failure.value) == "PERMISSION_DENIED"


def test_wrong_token_scope_is_rejected(sandbox: GA4Sandbox) -> None:
    """A token without the analytics read scope is refused with PERMISSION_DENIED."""
    other_scope = "https://www.googleapis.com/auth/adwords"
    info = sandbox.credentials(sandbox.grant({other_scope}))
    credentials = Credentials.from_authorized_user_info(info, scopes=[other_scope]).with_token_uri(
        info["token_uri"]
    )
    client = BetaAnalyticsDataClient(
        credentials=credentials, transport="rest", client_options={"api_endpoint": sandbox.url}
    )
    with pytest.raises(exceptions.Forbidden, match="insufficient authentication scopes") as failure:
        client.run_report(report(sandbox.property_id))
    assert google_status(failure.value) == "PERMISSION_DENIED"
    assert failure.value.reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"


def test_missing_token_is_unauthenticated(sandbox: GA4Sandbox) -> None:
    """No bearer token at all is a 401 in Google's error shape."""
    response = requests.post(
        f"{sandbox.url}/v1beta/properties/{sandbox.property_id}:runReport", json={}, timeout=5
    )
    assert response.status_code == 401
    assert response.json()["error"]["status"] == "UNAUTHENTICATED"


def test_more_than_10_concurrent_reports_are_resource_exhausted() -> None:
    """Requests beyond 10 in flight for a property are refused with RESOURCE_EXHAUSTED."""
    sandbox = GA4Sandbox(FaultPlan(latency_seconds=0.5)).start()
    try:
        token = sandbox.tokens.mint({READONLY_SCOPE})
        url = f"{sandbox.url}/v1beta/properties/{sandbox.property_id}:runReport"
        body = {
            "metrics": [{"name": "sessions"}],
            "dateRanges": [{"startDate": "7daysAgo", "endDate": "today"}],
        }
        statuses: list[int] = []
        lock = threading.Lock()

        start = threading.Barrier(14)

        def call() -> None:
            start.wait()
            response = requests.post(
                url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=10
            )
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 429:
                    assert response.json()["error"]["status"] == "RESOURCE_EXHAUSTED"

        threads = [threading.Thread(target=call) for _ in range(14)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses.count(200) == 10
        assert statuses.count(429) == 4
        assert sandbox.peak_in_flight["report"] == 10
    finally:
        sandbox.stop()


def test_sessions_with_a_refresh_token_lacking_the_scope_fail(
    ga4_settings: GA4Settings, sandbox: GA4Sandbox
) -> None:
    """The connector asks for analytics.readonly; a grant without it cannot mint a token."""
    from google.auth.exceptions import RefreshError

    narrow = sandbox.credentials(sandbox.grant({"https://www.googleapis.com/auth/adwords"}))
    settings = ga4_settings.model_copy(
        update={"credentials": GA4Settings.model_validate({"credentials": narrow}).credentials}
    )
    with pytest.raises(RefreshError, match="invalid_scope"):
        list(GA4Sessions(settings).pull(START, START))
    assert sandbox.report_requests == 0
