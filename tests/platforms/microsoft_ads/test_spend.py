"""Microsoft Advertising spend through the msads SDK's Reporting service, against the sandbox.

Seeded (account 2000002, USD; the sandbox's today is Nov 20):

- Nov 2, Search campaign 11 "Brand" / ad group 21 "Exact": keyword 31 "closedloop" 12.50
  (5 clicks, 100 impressions) and keyword 32 "attribution" 1,234.56 (40, 2,000).
- Nov 3, the same keyword 31: 7.25 (3, 60).
- Nov 3, Audience campaign 12 "Lookalikes": 3.00 (1, 900), no keywords.
- Nov 9 (outside Nov 1-5): keyword 31, 9.99.

Expected for Nov 1-5: three keyword rows (Paid Search) and one campaign-level row for campaign
12 (Display); total cost 12.50 + 1,234.56 + 7.25 + 3.00 = 1,257.31, clicks 49, impressions 3,060.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest
import requests

from connector.errors import PermanentPlatformError
from platforms.microsoft_ads.sandbox import MicrosoftAdsSandbox
from platforms.microsoft_ads.settings import MicrosoftAdsSettings
from platforms.microsoft_ads.spend import MicrosoftAdsSpend
from platforms.reporting import SpendRow

NOV = {d: date(2026, 11, d) for d in range(1, 31)}


@pytest.fixture
def seeded(sandbox: MicrosoftAdsSandbox) -> MicrosoftAdsSandbox:
    brand = {"ad_group_id": "21", "ad_group": "Exact"}
    sandbox.add_delivery(
        NOV[2], "11", "Brand", "12.50", 5, 100, keyword_id="31", keyword="closedloop", **brand
    )
    sandbox.add_delivery(
        NOV[2], "11", "Brand", "1234.56", 40, 2000, keyword_id="32", keyword="attribution", **brand
    )
    sandbox.add_delivery(
        NOV[3], "11", "Brand", "7.25", 3, 60, keyword_id="31", keyword="closedloop", **brand
    )
    sandbox.add_delivery(NOV[3], "12", "Lookalikes", "3.00", 1, 900, campaign_type="Audience")
    sandbox.add_delivery(
        NOV[9], "11", "Brand", "9.99", 1, 10, keyword_id="31", keyword="closedloop", **brand
    )
    sandbox.reporting.pending_polls = 2
    return sandbox


def pull(settings: MicrosoftAdsSettings, start: date, end: date) -> list[SpendRow]:
    return list(MicrosoftAdsSpend(settings, poll_seconds=0.01).pull(start, end))


def keyword_row(day, keyword_id, keyword, cost, clicks, impressions) -> SpendRow:
    return SpendRow(
        platform="microsoft_ads",
        day=day,
        campaign_id="11",
        campaign="Brand",
        cost=Decimal(cost),
        clicks=clicks,
        impressions=impressions,
        currency="USD",
        ad_group_id="21",
        ad_group="Exact",
        keyword_id=keyword_id,
        keyword=keyword,
        channel="Paid Search",
    )


def test_pull_returns_keyword_days_and_the_keywordless_campaign(seeded, settings) -> None:
    """Keyword rows by ID with names; the Audience campaign's day at campaign level, Display."""
    rows = pull(settings, NOV[1], NOV[5])
    assert rows == [
        keyword_row(NOV[2], "31", "closedloop", "12.50", 5, 100),
        keyword_row(NOV[2], "32", "attribution", "1234.56", 40, 2000),
        keyword_row(NOV[3], "31", "closedloop", "7.25", 3, 60),
        SpendRow(
            platform="microsoft_ads",
            day=NOV[3],
            campaign_id="12",
            campaign="Lookalikes",
            cost=Decimal("3.00"),
            clicks=1,
            impressions=900,
            currency="USD",
            channel="Display",
        ),
    ]
    assert sum(r.cost for r in rows) == Decimal("1257.31")
    assert (sum(r.clicks for r in rows), sum(r.impressions for r in rows)) == (49, 3060)


def test_requests_are_daily_csv_reports_of_the_account_and_its_range(seeded, settings) -> None:
    """What the SDK sent: both report types, Daily, Csv, the account, Nov 1-5; both polled."""
    pull(settings, NOV[1], NOV[5])
    sent = seeded.reporting.submitted
    assert [r["Type"] for r in sent] == [
        "KeywordPerformanceReportRequest",
        "CampaignPerformanceReportRequest",
    ]
    for request in sent:
        assert (request["Aggregation"], request["Format"]) == ("Daily", "Csv")
        assert request["Scope"]["AccountIds"] == ["2000002"]
        assert request["Time"]["CustomDateRangeStart"] == {"Year": 2026, "Month": 11, "Day": 1}
        assert request["Time"]["CustomDateRangeEnd"] == {"Year": 2026, "Month": 11, "Day": 5}
    assert seeded.reporting.downloads == 2
    assert seeded.headers_seen[0]["Customeraccountid"] == "2000002"


def test_the_file_has_microsofts_header_rows_and_footer(seeded, settings) -> None:
    """The zipped CSV as Microsoft lays it out; without header/footer flags they are present."""
    report = seeded.reporting
    report.pending_polls = 0
    report_id = report.submit(
        {
            "ReportRequest": {
                "Type": "CampaignPerformanceReportRequest",
                "Aggregation": "Daily",
                "Columns": ["TimePeriod", "CampaignId", "Spend"],
                "Scope": {"AccountIds": ["2000002"]},
                "Time": {
                    "CustomDateRangeStart": {"Year": 2026, "Month": 11, "Day": 3},
                    "CustomDateRangeEnd": {"Year": 2026, "Month": 11, "Day": 3},
                },
            }
        },
        "2000002",
    )["ReportRequestId"]
    url = report.poll({"ReportRequestId": report_id}, seeded.url)["ReportRequestStatus"][
        "ReportDownloadUrl"
    ]
    assert requests.get(url.split("&sig=")[0], timeout=5).status_code == 403
    body = requests.get(url, timeout=5).content
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        text = zipped.read(zipped.namelist()[0]).decode("utf-8")
    lines = text.split("\r\n")
    assert lines[0] == '\ufeff"Report Name: "'
    assert lines[1] == '"Report Time: 11/3/2026,11/3/2026"'
    assert lines[8] == '"Rows: 2"'
    assert lines[10] == '"TimePeriod","CampaignId","Spend"'
    assert lines[11:13] == ['"2026-11-03","11","7.25"', '"2026-11-03","12","3.00"']
    assert lines[14] == '"\u00a92026 Microsoft Corporation. All rights reserved. "'


def test_a_range_without_delivery_is_a_report_without_url(seeded, settings) -> None:
    """Microsoft answers Success with no ReportDownloadUrl when there are no rows."""
    assert pull(settings, NOV[10], NOV[12]) == []
    assert seeded.reporting.downloads == 0


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"developer_token": "wrong"}, "InvalidCredentials"),
        ({"account_id": "2000003"}, "UserIsNotAuthorized"),
    ],
)
def test_bad_credentials_or_account_are_refused(seeded, change, code) -> None:
    """The service's auth faults become permanent errors naming Microsoft's code."""
    settings = MicrosoftAdsSettings(**{**seeded.platform_config(), **change})
    with pytest.raises(PermanentPlatformError) as refused:
        pull(settings, NOV[1], NOV[5])
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (NOV[5], NOV[1], "InvalidCustomDateRange"),
        (NOV[19], NOV[21], "CustomDateRangeEndAfterToday"),
    ],
)
def test_bad_dates_are_refused(seeded, settings, start, end, code) -> None:
    """Start after end, or an end after the account's today, is an operation error."""
    with pytest.raises(PermanentPlatformError) as refused:
        pull(settings, start, end)
    assert refused.value.code == code


def test_unready_without_an_account(seeded) -> None:
    """Without an account there is no spend to read: skipped quietly."""
    settings = MicrosoftAdsSettings(customer_id="1000001")
    assert MicrosoftAdsSpend.unready(settings) == ""
    assert MicrosoftAdsSpend.unready(MicrosoftAdsSettings(**seeded.platform_config())) is None


def test_a_token_that_expires_while_polling_is_renewed_once(seeded, settings) -> None:
    """Microsoft forgets the token between polls: 109 is refreshed once and the pull completes."""
    forget = seeded.tokens._tokens.clear
    spend = MicrosoftAdsSpend(settings, poll_seconds=0, sleep=lambda _: forget())
    rows = list(spend.pull(NOV[1], NOV[5]))
    assert len(rows) == 4
    # The first token, then one renewal after each wait: 2 pending polls x 2 reports.
    assert seeded.token_requests == 5


def test_the_sdk_reads_a_file_without_header_rows_or_footer(seeded, tmp_path) -> None:
    """ExcludeReportHeader/Footer drop those parts; the SDK's reader still maps the columns."""
    from bingads.v13.reporting import ReportFileReader

    report = seeded.reporting
    report.pending_polls = 0
    request = {
        "Type": "KeywordPerformanceReportRequest",
        "Aggregation": "Daily",
        "Columns": ["TimePeriod", "KeywordId", "Spend"],
        "Scope": {"AccountIds": ["2000002"]},
        "Time": {
            "CustomDateRangeStart": {"Year": 2026, "Month": 11, "Day": 2},
            "CustomDateRangeEnd": {"Year": 2026, "Month": 11, "Day": 2},
        },
        "ExcludeReportHeader": True,
        "ExcludeReportFooter": True,
    }
    report_id = report.submit({"ReportRequest": request}, "2000002")["ReportRequestId"]
    url = report.poll({"ReportRequestId": report_id}, seeded.url)["ReportRequestStatus"][
        "ReportDownloadUrl"
    ]
    with zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=5).content)) as zipped:
        text = zipped.read(zipped.namelist()[0]).decode("utf-8-sig")
        zipped.extractall(tmp_path)
    assert text.split("\r\n")[0] == '"TimePeriod","KeywordId","Spend"'
    assert "Microsoft Corporation" not in text
    parsed = ReportFileReader(str(tmp_path / f"{report_id}.csv"), "Csv").get_report()
    assert [(r.value("KeywordId"), r.value("Spend")) for r in parsed.report_records] == [
        ("31", "12.50"),
        ("32", "1234.56"),
    ]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Columns": ["TimePeriod", "Nonsense"]}, "InvalidReportColumns"),
        ({"Columns": ["Spend"]}, "TimePeriodColumnRequired"),
        ({"Scope": {}}, "InvalidAccountIds"),
        ({"Aggregation": None}, "InvalidReportAggregation"),
    ],
)
def test_the_sandbox_refuses_malformed_report_requests(seeded, change, code) -> None:
    """Operation errors for what the service rejects: columns, TimePeriod, scope, aggregation."""
    request = {
        "Type": "CampaignPerformanceReportRequest",
        "Aggregation": "Daily",
        "Columns": ["TimePeriod", "Spend"],
        "Scope": {"AccountIds": ["2000002"]},
        "Time": {
            "CustomDateRangeStart": {"Year": 2026, "Month": 11, "Day": 2},
            "CustomDateRangeEnd": {"Year": 2026, "Month": 11, "Day": 2},
        },
        **change,
    }
    with pytest.raises(Exception) as refused:
        seeded.reporting.submit({"ReportRequest": request}, "2000002")
    assert refused.value.errors[0][1] == code
    assert refused.value.status == 400


def test_polling_an_unknown_report_is_refused(seeded) -> None:
    """A report ID the service never issued is an operation error."""
    with pytest.raises(Exception) as refused:
        seeded.reporting.poll({"ReportRequestId": "123"}, seeded.url)
    assert refused.value.errors[0][1] == "InvalidReportId"


def test_a_report_that_stays_pending_is_given_up_as_retryable(seeded, settings) -> None:
    """Past ``report_timeout`` the pull stops polling and asks to be retried later."""
    from connector.errors import RetryablePlatformError

    seeded.reporting.pending_polls = 1000
    spend = MicrosoftAdsSpend(settings, poll_seconds=0, report_timeout=0.2)
    with pytest.raises(RetryablePlatformError) as stuck:
        list(spend.pull(NOV[1], NOV[5]))
    assert stuck.value.code == "ReportTimeout"
