"""``closedloop doctor`` for GA4: Data API access, the validation server, and an honest note.

GA4's Measurement Protocol never says no: ``/mp/collect`` answers 2xx to anything, and the
validation server (``/debug/mp/collect``) checks the event's shape but not the
``api_secret``. So doctor validates a synthetic purchase there and says plainly that the
secret itself can only be confirmed in GA4 (Realtime report, after a real send). The Data API
is checked with the smallest ``runReport`` through ``google-analytics-data``.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import requests

from platforms.doctor import DoctorContext, Findings
from platforms.ga4.adapter import DEBUG_PATH
from platforms.ga4.client import DATA_API_SCOPES, data_api_client
from platforms.ga4.settings import GA4Settings
from platforms.google_doctor import check_token

KEY = "platforms.ga4"
SECRET_NOTE = (
    "GA4 cannot confirm the api_secret: its validation server ignores it and /mp/collect "
    "drops events with a wrong one silently"
)
SECRET_HOWTO = (
    f"compare {KEY}.api_secret with Admin > Data streams > your stream > Measurement Protocol "
    "API secrets; after the first sync, look for the purchase in Reports > Realtime"
)


def run(settings: GA4Settings, findings: Findings, context: DoctorContext) -> None:
    """Data API (when a property is configured), validation server, api_secret note."""
    if settings.property_id and settings.credentials is not None:
        if check_token(
            findings,
            settings.credentials,
            f"{KEY}.credentials",
            list(DATA_API_SCOPES),
            timeout=context.timeout,
        ):
            _data_api(settings, findings, context)
    else:
        findings.note(
            "Data API access",
            "not checked: no property_id and credentials, so sessions are not pulled",
            f"set {KEY}.property_id and {KEY}.credentials to pull GA4 sessions",
        )
    _validation(settings, findings, context)
    findings.note("api_secret", SECRET_NOTE, SECRET_HOWTO)


def _data_api(settings: GA4Settings, findings: Findings, context: DoctorContext) -> None:
    from google.analytics.data_v1beta.types import DateRange, Dimension, Metric, RunReportRequest

    name = "Data API access to the property"
    fix = (
        f"check {KEY}.property_id (Admin > Property details, digits only) and give the "
        "credentials' user or service account Viewer access to the property"
    )
    with findings.guard(name, fix):
        client = data_api_client(settings)
        client.run_report(
            request=RunReportRequest(
                property=f"properties/{settings.property_id}",
                dimensions=[Dimension(name="date")],
                metrics=[Metric(name="sessions")],
                date_ranges=[DateRange(start_date="yesterday", end_date="today")],
                limit=1,
            ),
            timeout=context.timeout,
        )
        findings.ok(name, f"runReport on properties/{settings.property_id}")


def _validation(settings: GA4Settings, findings: Findings, context: DoctorContext) -> None:
    name = "validation server accepts a purchase"
    fix = f"check {KEY}.measurement_id (G-...) and {KEY}.measurement_protocol_url"
    base = settings.measurement_protocol_url.rstrip("/")
    secret = settings.api_secret.get_secret_value() if settings.api_secret else ""
    body = {
        "client_id": "1000000000.1000000000",
        "events": [
            {
                "name": settings.event_name,
                "params": {
                    "transaction_id": f"closedloop-doctor-{int(time.time())}",
                    "value": 1.0,
                    "currency": "USD",
                    "engagement_time_msec": 1,
                },
            }
        ],
    }
    with findings.guard(name, fix):
        try:
            response = requests.post(
                base + DEBUG_PATH,
                params={"measurement_id": settings.measurement_id, "api_secret": secret},
                data=json.dumps(body),
                headers={"Content-Type": "application/json"},
                timeout=context.timeout,
            )
        except requests.RequestException as exc:
            # The message would carry the URL, api_secret included: name the host only.
            findings.stop(name, f"{type(exc).__name__} talking to {urlsplit(base).netloc}", fix)
        findings.saw_date(response.headers.get("Date"))
        if response.status_code != 200:
            findings.stop(name, f"HTTP {response.status_code}", fix)
        messages = response.json().get("validationMessages") or []
        if messages:
            first = messages[0]
            findings.stop(
                name,
                f"{first.get('validationCode')}: {first.get('description')}",
                f"check {KEY}.event_name and the event's parameters",
            )
        findings.ok(name, f"{settings.event_name} validated by {urlsplit(base).netloc}")
