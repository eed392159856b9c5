"""GA4 sessions per day and session source/medium/campaign, from the Data API's runReport."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Literal

from platforms.ga4.client import data_api_client
from platforms.ga4.settings import GA4Settings
from platforms.reporting import SessionsRow

DIMENSIONS = ("date", "sessionSource", "sessionMedium", "sessionCampaignName")
METRICS = ("sessions", "engagedSessions", "bounceRate")
#: The Data API's own default page; it allows up to 250,000 rows per request.
PAGE_SIZE = 10_000


class GA4Sessions:
    """Pull sessions through the official ``BetaAnalyticsDataClient`` with offset paging."""

    name = "ga4"
    rows: ClassVar[Literal["spend", "sessions"]] = "sessions"
    traffic: ClassVar[tuple[str, str, str] | None] = None

    @classmethod
    def unready(cls, settings: GA4Settings) -> str | None:
        """The Data API is optional for GA4: without it, conversions still flow."""
        return None if settings.property_id and settings.credentials else ""

    def __init__(
        self, settings: GA4Settings, *, page_size: int = PAGE_SIZE, timeout: float = 60.0
    ) -> None:
        self.settings = settings
        self.page_size = page_size
        self.timeout = timeout

    def pull(self, start: date, end: date) -> Iterator[SessionsRow]:
        """Every row for days in [start, end], page by page until ``rowCount`` is reached."""
        from google.analytics.data_v1beta.types import (
            DateRange,
            Dimension,
            Metric,
            RunReportRequest,
        )

        client = data_api_client(self.settings)
        offset = 0
        while True:
            request = RunReportRequest(
                property=f"properties/{self.settings.property_id}",
                dimensions=[Dimension(name=name) for name in DIMENSIONS],
                metrics=[Metric(name=name) for name in METRICS],
                date_ranges=[DateRange(start_date=start.isoformat(), end_date=end.isoformat())],
                limit=self.page_size,
                offset=offset,
            )
            response = client.run_report(request=request, timeout=self.timeout)
            for row in response.rows:
                day, source, medium, campaign = (v.value for v in row.dimension_values)
                sessions, engaged, bounce = (v.value for v in row.metric_values)
                yield SessionsRow(
                    day=datetime.strptime(day, "%Y%m%d").date(),
                    source=source,
                    medium=medium,
                    campaign=campaign,
                    sessions=int(sessions),
                    engaged_sessions=int(engaged),
                    bounce_rate=Decimal(bounce) if bounce else None,
                )
            offset += len(response.rows)
            if not response.rows or offset >= response.row_count:
                return
