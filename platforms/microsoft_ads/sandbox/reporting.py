"""The sandbox's Reporting service: SubmitGenerateReport, PollGenerateReport, the zipped CSV.

As the REST Reporting API serves them (the msads SDK's ``ReportingServiceApi``):

* ``POST /Reporting/v13/GenerateReport/Submit`` with ``{"ReportRequest": {...}}`` answers
  ``{"ReportRequestId": ...}``. Served report types: ``KeywordPerformanceReportRequest`` and
  ``CampaignPerformanceReportRequest``. Refused as operation errors (HTTP 400,
  ``ApiFaultDetail``): no request, an unknown type, no ``Aggregation``, no ``Columns`` or a
  column the report does not have, a time period without ``TimePeriod`` among the columns,
  ``Scope.AccountIds`` missing or naming an account other than the header's, no ``Time``, a
  custom range with an invalid date, start after end, or an end after today.
* ``POST /Reporting/v13/GenerateReport/Poll`` with ``{"ReportRequestId": ...}`` answers
  ``{"ReportRequestStatus": {"Status": "Pending" | "Success", "ReportDownloadUrl": ...}}``;
  a report stays Pending for ``pending_polls`` polls; a report without rows succeeds with no
  URL (as Microsoft documents); an unknown ID is an operation error.
* the download URL is a signed blob URL: GET without its ``sig`` is 403, as at Azure storage;
  the body is a zip holding one CSV (UTF-8 with BOM, every field quoted): the header rows
  (``Report Name``, ``Report Time``, ``Time Zone``, ``Last Completed Available Day/Hour``,
  ``Report Aggregation``, ``Report Filter``, ``Potential Incomplete Data``, ``Rows``), a blank
  row, the column headers, the rows, a blank row and the "©<year> Microsoft Corporation. All
  rights reserved." footer; ``ExcludeReportHeader``, ``ExcludeColumnHeaders`` and
  ``ExcludeReportFooter`` drop those parts.

Error codes marked (unverified) follow the API's fault shape but were not checked live.
"""

from __future__ import annotations

import csv
import io
import secrets
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

SUBMIT_PATH = "/Reporting/v13/GenerateReport/Submit"
POLL_PATH = "/Reporting/v13/GenerateReport/Poll"
DOWNLOAD_PREFIX = "/ReportDownload/"

NULL_REQUEST = (2001, "NullReportRequest")  # (unverified)
INVALID_REQUEST = (2004, "InvalidReportRequestType")  # (unverified)
INVALID_AGGREGATION = (2005, "InvalidReportAggregation")  # (unverified)
INVALID_COLUMNS = (2006, "InvalidReportColumns")  # (unverified)
TIME_PERIOD_REQUIRED = (2007, "TimePeriodColumnRequired")  # (unverified)
INVALID_SCOPE = (2008, "InvalidAccountIds")  # (unverified)
INVALID_TIME = (2009, "InvalidCustomDateRange")  # (unverified)
END_AFTER_TODAY = (2010, "CustomDateRangeEndAfterToday")  # (unverified)
INVALID_ID = (2100, "InvalidReportId")  # (unverified)
AGGREGATIONS = frozenset(
    {"Summary", "Hourly", "Daily", "Weekly", "Monthly", "Yearly", "HourOfDay", "DayOfWeek"}
)
#: The columns each served report has (a subset of Microsoft's; enough for spend by level).
COLUMNS = {
    "KeywordPerformanceReportRequest": frozenset(
        {
            "TimePeriod",
            "AccountId",
            "AccountName",
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
        }
    ),
    "CampaignPerformanceReportRequest": frozenset(
        {
            "TimePeriod",
            "AccountId",
            "AccountName",
            "CampaignId",
            "CampaignName",
            "CampaignType",
            "CurrencyCode",
            "Spend",
            "Clicks",
            "Impressions",
        }
    ),
}
#: ``CampaignType`` as the report file spells it.
CAMPAIGN_TYPES = {
    "SearchAndContent": "Search & content",
    "Shopping": "Shopping",
    "DynamicSearch": "Dynamic search ads",
    "Audience": "Audience",
    "PerformanceMax": "Performance max",
}


@dataclass(frozen=True)
class Delivery:
    """One day of one keyword (or, with no keyword, of an Audience/Shopping campaign)."""

    day: date
    campaign_id: str
    campaign: str
    campaign_type: str
    ad_group_id: str
    ad_group: str
    keyword_id: str
    keyword: str
    cost: Decimal
    clicks: int
    impressions: int


@dataclass
class _Job:
    kind: str
    name: str
    rows: list[dict[str, str]]
    columns: list[str]
    flags: dict[str, bool]
    start: date
    end: date
    polls_left: int
    signature: str


class Reporting:
    """Reports over the seeded delivery of the sandbox's one account."""

    def __init__(
        self,
        error: Callable[[int, str, list[tuple[int, str, str]]], Exception],
        clock: Callable[[], datetime],
    ) -> None:
        self._error = error
        self._clock = clock
        self.account_id = ""
        self.currency = "USD"
        self.pending_polls = 1
        self.reset()

    def reset(self) -> None:
        """Forget delivery and reports."""
        self.delivery: list[Delivery] = []
        self._jobs: dict[str, _Job] = {}
        self.submitted: list[dict[str, Any]] = []
        self.downloads = 0

    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` is one of the Reporting service's."""
        return path in (SUBMIT_PATH, POLL_PATH) or path.startswith(DOWNLOAD_PREFIX)

    # -- operations ------------------------------------------------------------------------------
    def submit(self, body: Any, account_id: str) -> dict[str, Any]:
        """Validate the request as the service does and queue its report."""
        request = body.get("ReportRequest") if isinstance(body, dict) else None
        if not isinstance(request, dict):
            raise self._fail(NULL_REQUEST, "The ReportRequest must not be null.")
        kind = str(request.get("Type") or "")
        if kind not in COLUMNS:
            raise self._fail(INVALID_REQUEST, f"Report type {kind!r} is not served here.")
        aggregation = request.get("Aggregation")
        if aggregation not in AGGREGATIONS:
            raise self._fail(INVALID_AGGREGATION, f"Aggregation {aggregation!r} is not valid.")
        columns = request.get("Columns")
        if not isinstance(columns, list) or not columns:
            raise self._fail(INVALID_COLUMNS, "Columns must not be null or empty.")
        if unknown := [c for c in columns if c not in COLUMNS[kind]]:
            raise self._fail(INVALID_COLUMNS, f"{kind} has no columns {unknown}.")
        if aggregation != "Summary" and "TimePeriod" not in columns:
            raise self._fail(TIME_PERIOD_REQUIRED, f"{aggregation} reports need TimePeriod.")
        accounts = ((request.get("Scope") or {}).get("AccountIds")) or []
        if [str(a) for a in accounts] != [account_id]:
            raise self._fail(INVALID_SCOPE, "Scope.AccountIds must name accounts you can access.")
        start, end = self._range(request.get("Time"))
        self.submitted.append(request)
        report_id = f"{secrets.randbelow(10**10):010d}"
        self._jobs[report_id] = _Job(
            kind=kind,
            name=str(request.get("ReportName") or ""),
            rows=self._rows(kind, start, end),
            columns=list(columns),
            flags={
                k: bool(request.get(k))
                for k in ("ExcludeReportHeader", "ExcludeColumnHeaders", "ExcludeReportFooter")
            },
            start=start,
            end=end,
            polls_left=self.pending_polls,
            signature=secrets.token_urlsafe(16),
        )
        return {"ReportRequestId": report_id}

    def poll(self, body: Any, base_url: str) -> dict[str, Any]:
        """Pending for the first ``pending_polls`` polls, then Success with the download URL."""
        report_id = str((body or {}).get("ReportRequestId") or "")
        job = self._jobs.get(report_id)
        if job is None:
            raise self._fail(INVALID_ID, f"No report request {report_id!r}.")
        if job.polls_left > 0:
            job.polls_left -= 1
            return {"ReportRequestStatus": {"Status": "Pending", "ReportDownloadUrl": None}}
        url = f"{base_url}{DOWNLOAD_PREFIX}{report_id}.zip?sv=2020-10-02&sig={job.signature}"
        return {
            "ReportRequestStatus": {
                "Status": "Success",
                "ReportDownloadUrl": url if job.rows else None,
            }
        }

    def download(self, path: str, signature: str | None) -> bytes | None:
        """The zipped CSV, or None when the URL is not one this service signed."""
        report_id = path.removeprefix(DOWNLOAD_PREFIX).removesuffix(".zip")
        job = self._jobs.get(report_id)
        if job is None or not signature or signature != job.signature:
            return None
        self.downloads += 1
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zipped:
            zipped.writestr(f"{report_id}.csv", self._csv(job))
        return buffer.getvalue()

    # -- helpers ---------------------------------------------------------------------------------
    def _fail(self, error: tuple[int, str], message: str) -> Exception:
        return self._error(400, "ApiFaultDetail", [(*error, message)])

    def _range(self, time: Any) -> tuple[date, date]:
        if not isinstance(time, dict):
            raise self._fail(INVALID_TIME, "Time must not be null.")
        try:
            start = _date(time.get("CustomDateRangeStart"))
            end = _date(time.get("CustomDateRangeEnd"))
        except (TypeError, ValueError, KeyError):
            raise self._fail(INVALID_TIME, "CustomDateRangeStart/End must be dates.") from None
        if start > end:
            raise self._fail(INVALID_TIME, "CustomDateRangeStart is after CustomDateRangeEnd.")
        if end > self._clock().date():
            raise self._fail(END_AFTER_TODAY, "CustomDateRangeEnd cannot be later than today.")
        return start, end

    def _rows(self, kind: str, start: date, end: date) -> list[dict[str, str]]:
        days = [d for d in self.delivery if start <= d.day <= end]
        if kind == "KeywordPerformanceReportRequest":
            return [_keyword_row(d, self.account_id, self.currency) for d in days if d.keyword_id]
        totals: dict[tuple[date, str], list[Any]] = defaultdict(lambda: [Decimal(0), 0, 0, None])
        for d in days:
            total = totals[(d.day, d.campaign_id)]
            total[0] += d.cost
            total[1] += d.clicks
            total[2] += d.impressions
            total[3] = d
        return [
            {
                "TimePeriod": day.isoformat(),
                "AccountId": self.account_id,
                "CampaignId": campaign_id,
                "CampaignName": d.campaign,
                "CampaignType": CAMPAIGN_TYPES.get(d.campaign_type, d.campaign_type),
                "CurrencyCode": self.currency,
                "Spend": f"{cost:.2f}",
                "Clicks": str(clicks),
                "Impressions": str(impressions),
            }
            for (day, campaign_id), (cost, clicks, impressions, d) in sorted(totals.items())
        ]

    def _csv(self, job: _Job) -> str:
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        now = self._clock()
        if not job.flags["ExcludeReportHeader"]:
            stamp = now.strftime("%m/%d/%Y %I:%M:%S %p")
            for line in (
                f"Report Name: {job.name}",
                f"Report Time: {_us(job.start)},{_us(job.end)}",
                "Time Zone: (GMT-08:00) Pacific Time (US & Canada); Tijuana",
                f"Last Completed Available Day: {stamp} (GMT)",
                f"Last Completed Available Hour: {stamp} (GMT)",
                "Report Aggregation: Daily",
                "Report Filter: ",
                "Potential Incomplete Data: false",
                f"Rows: {len(job.rows)}",
            ):
                writer.writerow([line])
            writer.writerow([])
        if not job.flags["ExcludeColumnHeaders"]:
            writer.writerow(job.columns)
        for row in job.rows:
            writer.writerow([row.get(c, "") for c in job.columns])
        if not job.flags["ExcludeReportFooter"]:
            writer.writerow([])
            writer.writerow([f"\u00a9{now.year} Microsoft Corporation. All rights reserved. "])
        return "\ufeff" + out.getvalue()


def _keyword_row(d: Delivery, account_id: str, currency: str) -> dict[str, str]:
    return {
        "TimePeriod": d.day.isoformat(),
        "AccountId": account_id,
        "CampaignId": d.campaign_id,
        "CampaignName": d.campaign,
        "AdGroupId": d.ad_group_id,
        "AdGroupName": d.ad_group,
        "KeywordId": d.keyword_id,
        "Keyword": d.keyword,
        "CurrencyCode": currency,
        "Spend": f"{d.cost:.2f}",
        "Clicks": str(d.clicks),
        "Impressions": str(d.impressions),
    }


def _date(value: Any) -> date:
    return date(int(value["Year"]), int(value["Month"]), int(value["Day"]))


def _us(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"
