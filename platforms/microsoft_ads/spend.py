"""Microsoft Advertising spend per day, from the Reporting service of the msads SDK.

Two reports over the same days, each the Reporting service's three steps (what the SDK's
``ReportingServiceManager.download_report`` does): ``SubmitGenerateReport`` a request with
``Aggregation=Daily`` and ``Format=Csv``, ``PollGenerateReport`` its ID until the status is
``Success``, then GET the ``ReportDownloadUrl`` (a zipped CSV; no URL means no rows) and read
it with the SDK's ``ReportFileReader``, which knows the file's header rows and copyright footer.

* ``KeywordPerformanceReportRequest``: one row per keyword and day, the finest level Microsoft
  reports spend at: campaign, ad group and keyword IDs and names, ``Spend``, ``Clicks``,
  ``Impressions``, ``CurrencyCode``.
* ``CampaignPerformanceReportRequest``: one row per campaign and day with its ``CampaignType``.
  The type sets the GA4 channel of all the campaign's rows (``campaign_types``), and what the
  campaign spent beyond its keywords (Audience, Shopping and Performance Max campaigns have no
  keywords) becomes one campaign-level row, so the account's total is complete.

The report runs in the account's own time zone (no ``ReportTimeZone`` is sent), as Google's and
Meta's do. ``url_id_params`` lets the pull put touches whose landing URL carries Microsoft's
``{CampaignId}`` / ``{AdGroupId}`` / ``{OrderItemId}`` on the same rows (``url_parameters``).
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, ClassVar, Literal

import requests

from connector.errors import ConfigError, RetryablePlatformError
from platforms.microsoft_ads import client
from platforms.microsoft_ads.campaign_types import channel_of
from platforms.microsoft_ads.settings import MicrosoftAdsSettings
from platforms.microsoft_ads.url_parameters import ID_PARAMS
from platforms.reporting import SpendRow

KEYWORD_COLUMNS = (
    "TimePeriod",
    "AccountId",
    "CampaignId",
    "CampaignName",
    "AdGroupId",
    "AdGroupName",
    "KeywordId",
    "Keyword",
    "CurrencyCode",
    "Spend",
    "Clicks",
    "Impressions",
)
CAMPAIGN_COLUMNS = (
    "TimePeriod",
    "AccountId",
    "CampaignId",
    "CampaignName",
    "CampaignType",
    "CurrencyCode",
    "Spend",
    "Clicks",
    "Impressions",
)
#: Seconds between polls (the SDK's default is 5), and before a report counts as stuck: the
#: pull runs inside the sync, so a slow report is given up (retryable) rather than holding the
#: run; the next run pulls the same days again.
POLL_SECONDS = 5.0
REPORT_TIMEOUT_SECONDS = 120.0
RETRY_SECONDS = 300.0
Totals = tuple[Decimal, int, int]


class MicrosoftAdsSpend:
    """Daily spend, clicks and impressions per keyword (and keyword-less campaign)."""

    name = "microsoft_ads"
    rows: ClassVar[Literal["spend", "sessions"]] = "spend"
    traffic: ClassVar[tuple[str, str, str] | None] = ("bing", "cpc", "Paid Search")
    url_id_params: ClassVar[tuple[str, ...]] = ID_PARAMS

    @classmethod
    def unready(cls, settings: MicrosoftAdsSettings) -> str | None:
        """The account the conversions go to is the one whose spend is read."""
        return None if settings.account_id and settings.customer_id else ""

    def __init__(
        self,
        settings: MicrosoftAdsSettings,
        *,
        timeout: float = 60.0,
        poll_seconds: float = POLL_SECONDS,
        report_timeout: float = REPORT_TIMEOUT_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not settings.account_id:
            raise ConfigError("needed to read spend", path="platforms.microsoft_ads.account_id")
        self.settings = settings
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.report_timeout = report_timeout
        self._sleep = sleep
        self._tokens = client.TokenSource(settings, timeout=timeout)
        self._api: Any = None

    def pull(self, start: date, end: date) -> Iterator[SpendRow]:
        """Every keyword-day (and campaign remainder) with delivery in [start, end]."""
        self._api = client.build_reporting_api(self.settings, self._tokens.token())
        try:
            keywords = self._report("KeywordPerformanceReportRequest", KEYWORD_COLUMNS, start, end)
            campaigns = self._report(
                "CampaignPerformanceReportRequest", CAMPAIGN_COLUMNS, start, end
            )
        finally:
            pool = getattr(self._api.api_client.rest_client, "pool_manager", None)
            if pool is not None:
                pool.clear()
        yield from _spend_rows(keywords, campaigns)

    # -- the three steps -----------------------------------------------------------------------
    def _report(
        self, kind: str, columns: tuple[str, ...], start: date, end: date
    ) -> list[dict[str, str]]:
        request_id = self._submit(_request(kind, columns, self.settings, start, end))
        url = self._poll(request_id)
        return self._download(url, columns) if url else []

    def _poll(self, request_id: str) -> str | None:
        deadline = time.monotonic() + self.report_timeout
        while True:
            status, url = self._status(request_id)
            if status == "Success":
                return url
            if status != "Pending":
                raise RetryablePlatformError(
                    f"Microsoft Advertising could not build report {request_id} ({status})",
                    platform=self.name,
                    code=f"Report{status}",
                    retry_after=RETRY_SECONDS,
                )
            if time.monotonic() >= deadline:
                raise RetryablePlatformError(
                    f"report {request_id} still pending after {self.report_timeout:.0f} s",
                    platform=self.name,
                    code="ReportTimeout",
                    retry_after=RETRY_SECONDS,
                )
            self._sleep(self.poll_seconds)

    def _download(self, url: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
        """GET the zipped CSV (a signed URL: no account headers) and read its rows."""
        from bingads.manifest import USER_AGENT
        from bingads.v13.reporting import ReportFileReader

        try:
            answer = requests.get(url, headers={"User-Agent": USER_AGENT}, timeout=self.timeout)
        except requests.RequestException as error:
            raise _unreachable(type(error).__name__) from None
        if answer.status_code != 200:
            raise RetryablePlatformError(
                f"the report download answered HTTP {answer.status_code}",
                platform=self.name,
                code="ReportDownloadFailed",
                retry_after=RETRY_SECONDS,
            )
        with tempfile.TemporaryDirectory(prefix="closedloop-msads-") as folder:
            archive = Path(folder) / "report.zip"
            archive.write_bytes(answer.content)
            with zipfile.ZipFile(archive) as zipped:
                csv_path = Path(zipped.extract(zipped.namelist()[0], folder))
            report = ReportFileReader(str(csv_path), "Csv").get_report()
            try:
                return [{c: record.value(c) for c in columns} for record in report.report_records]
            finally:
                report.close()

    def _submit(self, request: Any) -> str:
        from openapi_client.models.reporting import SubmitGenerateReportRequest

        answer = self._call(
            lambda: self._api.submit_generate_report(
                SubmitGenerateReportRequest(ReportRequest=request),
                _request_timeout=float(self.timeout),
            )
        )
        return str(answer.report_request_id)

    def _status(self, request_id: str) -> tuple[str, str | None]:
        """The report's status and, once built, its download URL."""
        from openapi_client.models.reporting import PollGenerateReportRequest

        answer = self._call(
            lambda: self._api.poll_generate_report(
                PollGenerateReportRequest(ReportRequestId=request_id),
                _request_timeout=float(self.timeout),
            )
        )
        status = answer.report_request_status
        state = getattr(status.status, "value", status.status) if status else None
        return str(state), (status.report_download_url if status else None)

    def _call(self, send: Callable[[], Any]) -> Any:
        """One Reporting call; an expired token is refreshed and the call made once more."""
        return client.once_more_on_expiry(
            self._tokens, self._api.api_client, lambda: _answer_of(send)
        )


def _answer_of(send: Callable[[], Any]) -> Any:
    """``send()``, its failures as the platform errors (or :class:`client.TokenExpired`)."""
    from openapi_client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    try:
        return send()
    except ApiException as error:
        fault = client.read_fault(error.status or 0, error.body, error.headers or {})
        if client.TOKEN_EXPIRED_CODE in fault.codes:
            raise client.TokenExpired(fault) from None
        raise client.request_error(fault) from None
    except HTTPError as error:
        raise _unreachable(type(error).__name__) from None


def _unreachable(kind: str) -> RetryablePlatformError:
    return RetryablePlatformError(
        f"no answer from the Microsoft Advertising Reporting service ({kind})",
        platform="microsoft_ads",
        code="connection",
        retry_after=30.0,
    )


def _request(
    kind: str, columns: tuple[str, ...], settings: MicrosoftAdsSettings, start: date, end: date
) -> Any:
    """The report request: Daily, CSV, the account's scope, the custom date range."""
    from openapi_client.models import reporting as m

    scope_type = (
        m.AccountThroughAdGroupReportScope
        if kind == "KeywordPerformanceReportRequest"
        else m.AccountThroughCampaignReportScope
    )
    column_type = (
        m.KeywordPerformanceReportColumn
        if kind == "KeywordPerformanceReportRequest"
        else m.CampaignPerformanceReportColumn
    )
    request_type = getattr(m, kind)
    return request_type(
        ReportName=f"closedloop spend {start.isoformat()}..{end.isoformat()}",
        Format=m.ReportFormat.CSV,
        ReturnOnlyCompleteData=False,
        Aggregation=m.ReportAggregation.DAILY,
        Scope=scope_type(AccountIds=[str(settings.account_id)]),
        Time=m.ReportTime(
            CustomDateRangeStart=m.Date(Year=start.year, Month=start.month, Day=start.day),
            CustomDateRangeEnd=m.Date(Year=end.year, Month=end.month, Day=end.day),
        ),
        Columns=[column_type(name) for name in columns],
    )


def _spend_rows(
    keywords: list[dict[str, str]], campaigns: list[dict[str, str]]
) -> Iterator[SpendRow]:
    """Keyword rows, then each campaign-day's spend beyond its keywords, channel by type."""
    channels = {row["CampaignId"]: channel_of(row.get("CampaignType")) for row in campaigns}
    by_keywords: dict[tuple[date, str], Totals] = defaultdict(lambda: (Decimal(0), 0, 0))
    for row in keywords:
        day, totals = _day(row["TimePeriod"]), _totals(row)
        key = (day, row["CampaignId"])
        cost, clicks, impressions = by_keywords[key]
        by_keywords[key] = (cost + totals[0], clicks + totals[1], impressions + totals[2])
        yield _row(row, day, totals, channels.get(row["CampaignId"]), keyword_level=True)
    for row in campaigns:
        day = _day(row["TimePeriod"])
        cost, clicks, impressions = by_keywords.get((day, row["CampaignId"]), (Decimal(0), 0, 0))
        total_cost, total_clicks, total_impressions = _totals(row)
        rest = (
            max(total_cost - cost, Decimal(0)),
            max(total_clicks - clicks, 0),
            max(total_impressions - impressions, 0),
        )
        if any(rest):
            yield _row(row, day, rest, channels.get(row["CampaignId"]), keyword_level=False)


def _row(
    row: dict[str, str], day: date, totals: Totals, channel: str | None, *, keyword_level: bool
) -> SpendRow:
    cost, clicks, impressions = totals
    return SpendRow(
        platform="microsoft_ads",
        day=day,
        campaign_id=row["CampaignId"],
        campaign=row.get("CampaignName") or None,
        cost=cost,
        clicks=clicks,
        impressions=impressions,
        currency=row.get("CurrencyCode") or None,
        ad_group_id=row.get("AdGroupId", "") if keyword_level else "",
        ad_group=(row.get("AdGroupName") or None) if keyword_level else None,
        keyword_id=row.get("KeywordId", "") if keyword_level else "",
        keyword=(row.get("Keyword") or None) if keyword_level else None,
        channel=channel,
    )


def _totals(row: dict[str, str]) -> Totals:
    return (_money(row.get("Spend")), _count(row.get("Clicks")), _count(row.get("Impressions")))


def _money(raw: str | None) -> Decimal:
    """Report figures are text, "--" when empty, with thousands separators above 999."""
    try:
        return Decimal((raw or "0").replace(",", "").replace("--", "0") or "0")
    except InvalidOperation:
        return Decimal(0)


def _count(raw: str | None) -> int:
    return int(_money(raw))


def _day(raw: str) -> date:
    """``TimePeriod`` of a Daily report: ISO (``2026-11-01``) or US (``11/1/2026``)."""
    raw = raw.strip()
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return datetime.strptime(raw, "%m/%d/%Y").date()
