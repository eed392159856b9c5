"""The Data Manager path: build ``Event`` messages and ingest them, one outcome per item.

Data Manager fails a whole request when one event is invalid, naming it in the error's
``BadRequest`` field violations (``events[3]...``). The sender rejects exactly those items with
Google's reason and sends the rest again within the same call, so one bad event never holds
back a batch.

Processing is asynchronous: a successful ``IngestEvents`` returns a ``request_id`` and means
only "accepted for processing"; whether its events were processed is reported by
``RetrieveRequestStatus`` for that one ``request_id`` (per destination: ``SUCCESS``,
``PROCESSING``, ``PARTIAL_SUCCESS``, ``FAILED``, with error counts by reason). Source: Google's
diagnostics guide, https://developers.google.com/data-manager/api/devguides/diagnostics ("Wait
for 30 minutes, then send a RetrieveRequestStatus request for each successful request_id ...
until the destination status ... reaches SUCCESS, PARTIAL_SUCCESS, or FAILURE", with
exponential backoff), and ``google/ads/datamanager_v1/types/ingestion_service.py``.

So ``send`` answers ``Confirming`` with the ``request_id``: the outbox keeps the rows in status
``confirming`` and asks :meth:`DataManagerSender.verdicts` (one ``RetrieveRequestStatus`` per
``request_id``, however many rows share it) first ``status_check_minutes`` (30) after the
ingest, then with backoff, for up to 24 hours (``connector.outbox.confirm``). No status is read
right after the ingest: Google would answer ``PROCESSING``, and the read would cost a request
per ingest for nothing. The verdict of a status, per :func:`verdict`:

* ``SUCCESS`` -> accepted.
* ``PROCESSING`` (or unknown) -> still confirming; asked again later.
* ``FAILED`` with every failure a duplicate ``transaction_id`` -> accepted: Google already
  holds those conversions (an earlier request delivered them).
* ``FAILED`` otherwise -> rejected, ``reason_code`` the failure reasons joined by commas
  (``PROCESSING_ERROR_REASON_...``), the message each reason with its count.
* ``PARTIAL_SUCCESS`` (and a ``FAILED`` with duplicates among other failures) -> accepted with
  the warning ``PARTIAL_SUCCESS`` on every row of the request: Google counts failures per
  reason, never per event, so no row can be singled out; the warning names each reason and its
  count, and ``closedloop outbox list --status accepted`` shows them. Marking every row
  rejected would call delivered conversions failed; re-sending all would be harmless (Google
  dedups by ``transaction_id``) but is the operator's call once the cause is fixed.
* no final status 24 hours after the ingest -> dead letter ``CONFIRMATION_TIMEOUT``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from google.ads import datamanager_v1 as dm
from google.api_core import exceptions as api_exceptions
from google.rpc import error_details_pb2

from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import (
    Accepted,
    Confirming,
    Outcome,
    PlannedConversion,
    Rejected,
    Retry,
    Verdict,
)
from platforms.google_ads.client import MISSING_SCOPE, PLATFORM

_EVENT_INDEX = re.compile(r"(?:^|\.)events\[(\d+)\]")
_RETRYABLE = (
    api_exceptions.ResourceExhausted,
    api_exceptions.TooManyRequests,
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    api_exceptions.GatewayTimeout,
    api_exceptions.InternalServerError,
    api_exceptions.Aborted,
    api_exceptions.Unknown,
)
#: Seconds to wait after RESOURCE_EXHAUSTED when Google gives no RetryInfo: the quota is per
#: minute.
DEFAULT_QUOTA_WAIT = 60.0
_STATUS = dm.RequestStatusPerDestination.RequestStatus
_DUPLICATE = dm.ProcessingErrorReason.PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID.name
#: The warning code on rows of a request Google processed only in part.
PARTIAL = "PARTIAL_SUCCESS"


def consent_status(value: bool | None) -> dm.ConsentStatus:
    """Our tri-state consent as Google's enum."""
    if value is None:
        return dm.ConsentStatus.CONSENT_STATUS_UNSPECIFIED
    return dm.ConsentStatus.CONSENT_GRANTED if value else dm.ConsentStatus.CONSENT_DENIED


def build_event(
    conversion: PlannedConversion,
    *,
    click_field: str | None,
    emails: list[str],
    phones: list[str],
) -> dm.Event:
    """The ``Event`` for one conversion; ``event_timestamp`` is an absolute instant.

    A naive ``event_time`` is read as UTC (storage keeps aware UTC times; this only guards
    against a caller that dropped the zone).
    """
    ids = conversion.identifiers
    event = dm.Event(
        transaction_id=conversion.dedup_key,
        event_timestamp=utc(conversion.event_time),
        conversion_value=float(conversion.value),
        currency=conversion.currency.upper(),
        consent=dm.Consent(
            ad_user_data=consent_status(ids.consent_ad_user_data),
            ad_personalization=consent_status(ids.consent_ad_personalization),
        ),
    )
    if click_field is not None:
        event.ad_identifiers = dm.AdIdentifiers(**{click_field: getattr(ids, click_field)})
    identifiers = [dm.UserIdentifier(email_address=h) for h in emails]
    identifiers += [dm.UserIdentifier(phone_number=h) for h in phones]
    if identifiers:
        event.user_data = dm.UserData(user_identifiers=identifiers)
    return event


class DataManagerSender:
    """Ingests events for one conversion action of the configured customer."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        *,
        customer_id: str,
        login_customer_id: str | None,
        timeout: float,
        dry_run: bool,
    ) -> None:
        self._client_factory = client_factory
        self.customer_id = customer_id
        self.login_customer_id = login_customer_id
        self.timeout = timeout
        self.dry_run = dry_run

    def send(self, events: list[dm.Event], conversion_action_id: str) -> list[Outcome]:
        """One IngestEvents call (more only to drop events Google named as invalid)."""
        outcomes: list[Outcome | None] = [None] * len(events)
        pending = list(range(len(events)))
        while pending:
            request = self._request([events[i] for i in pending], conversion_action_id)
            try:
                response = self._client_factory().ingest_events(
                    request=request, retry=None, timeout=self.timeout
                )
            except api_exceptions.InvalidArgument as exc:
                failures = {k: v for k, v in event_failures(exc).items() if k < len(pending)}
                if not failures:
                    raise whole_request_error(exc, self.customer_id) from exc
                for position, rejection in failures.items():
                    outcomes[pending[position]] = rejection
                pending = [p for k, p in enumerate(pending) if k not in failures]
                continue
            except api_exceptions.GoogleAPICallError as exc:
                raise whole_request_error(exc, self.customer_id) from exc
            accepted = self._accepted(response.request_id, len(pending))
            for position, outcome in zip(pending, accepted, strict=True):
                outcomes[position] = outcome
            break
        return [o for o in outcomes if o is not None]

    def _request(self, events: list[dm.Event], conversion_action_id: str) -> dm.IngestEventsRequest:
        destination = dm.Destination(
            operating_account=dm.ProductAccount(
                account_id=self.customer_id,
                account_type=dm.ProductAccount.AccountType.GOOGLE_ADS,
            ),
            product_destination_id=conversion_action_id,
        )
        if self.login_customer_id:
            destination.login_account = dm.ProductAccount(
                account_id=self.login_customer_id,
                account_type=dm.ProductAccount.AccountType.GOOGLE_ADS,
            )
        return dm.IngestEventsRequest(
            destinations=[destination],
            events=events,
            encoding=dm.Encoding.HEX,
            validate_only=self.dry_run,
        )

    def _accepted(self, request_id: str, count: int) -> list[Outcome]:
        """Handed over: Confirming with the ``request_id`` (validate_only: Accepted, final)."""
        if self.dry_run or not request_id:
            return [Accepted(ref=None, diagnostics={"validate_only": True})] * count
        return [Confirming(ref=request_id, diagnostics={"request_id": request_id})] * count

    def verdicts(self, request_ids: list[str]) -> dict[str, Verdict]:
        """One ``RetrieveRequestStatus`` per ``request_id``, each read as :func:`verdict`.

        A request Google does not know (``INVALID_ARGUMENT``: its status expired or never
        existed) is unknown for now, not failed: the events may well have been processed, and
        the outbox's deadline ends the wait. A retryable failure (quota, 5xx) stops the
        look-ups of this call, every remaining id unknown until the platform's hint has passed;
        a refused credential raises, pausing the destination.
        """
        out: dict[str, Verdict] = {}
        for index, request_id in enumerate(request_ids):
            try:
                status = self._client_factory().retrieve_request_status(
                    request=dm.RetrieveRequestStatusRequest(request_id=request_id),
                    retry=None,
                    timeout=self.timeout,
                )
            except (api_exceptions.InvalidArgument, api_exceptions.NotFound) as exc:
                out[request_id] = Retry(exc.reason or "INVALID_REQUEST_ID", str(exc.message))
                continue
            except api_exceptions.GoogleAPICallError as exc:
                error = whole_request_error(exc, self.customer_id)
                if isinstance(error, PermanentPlatformError):
                    raise error from exc
                hint = Retry(error.code or "RETRYABLE", str(error), error.retry_after)
                out.update(dict.fromkeys(request_ids[index:], hint))
                break
            out[request_id] = verdict(request_id, status_json(request_id, status))
        return out


def status_json(request_id: str, status: Any) -> dict[str, Any]:
    """A ``RetrieveRequestStatusResponse`` as the plain JSON kept in ``diagnostics``."""
    return {
        "request_id": request_id,
        "destinations": [
            {
                "conversion_action_id": entry.destination.product_destination_id,
                "status": entry.request_status.name,
                "record_count": entry.events_ingestion_status.record_count,
                "errors": {
                    count.reason.name: count.record_count for count in entry.error_info.error_counts
                },
            }
            for entry in status.request_status_per_destination
        ],
    }


def verdict(request_id: str, diagnostics: dict[str, Any]) -> Verdict:
    """What a request's status means for every one of its rows (rules in the module doc)."""
    destinations = diagnostics.get("destinations") or []
    states = {d["status"] for d in destinations}
    final = {_STATUS.SUCCESS.name, _STATUS.FAILED.name, _STATUS.PARTIAL_SUCCESS.name}
    if not destinations or not states <= final:
        return Confirming(ref=request_id, diagnostics=diagnostics)
    errors: dict[str, int] = {}
    for entry in destinations:
        for reason, count in entry["errors"].items():
            errors[reason] = errors.get(reason, 0) + count
    failures = {reason: n for reason, n in errors.items() if reason != _DUPLICATE}
    counts = ", ".join(f"{reason} x{n}" for reason, n in sorted(errors.items()))
    if states == {_STATUS.FAILED.name} and not errors.get(_DUPLICATE):
        code = ",".join(sorted(failures)) or "PROCESSING_FAILED"
        message = (
            f"Data Manager accepted request {request_id} but processing failed every event: "
            + (counts or "no reason given")
        )
        return Rejected(code, message)
    if not failures:  # SUCCESS, or only duplicates: Google holds every one of them
        return Accepted(ref=request_id, diagnostics=diagnostics)
    records = sum(d["record_count"] for d in destinations)
    message = (
        f"Data Manager processed request {request_id} only in part: {sum(failures.values())} "
        f"of {records} events failed ({counts}); Google does not say which, so every row of "
        "the request is marked accepted with this warning"
    )
    return Accepted(ref=request_id, diagnostics=diagnostics, code=PARTIAL, message=message)


def event_failures(exc: api_exceptions.GoogleAPICallError) -> dict[int, Rejected]:
    """Event index -> Google's reason and description, from the error's field violations."""
    out: dict[int, Rejected] = {}
    for detail in exc.details or ():
        if not isinstance(detail, error_details_pb2.BadRequest):
            continue
        for violation in detail.field_violations:
            match = _EVENT_INDEX.search(violation.field)
            if match is None:
                continue
            index = int(match.group(1))
            code = violation.reason or exc.reason or "INVALID_ARGUMENT"
            message = f"{violation.field}: {violation.description}"
            if index in out:
                previous = out[index]
                out[index] = Rejected(previous.code, f"{previous.message}; {message}")
            else:
                out[index] = Rejected(code, message)
    return out


def retry_delay(exc: api_exceptions.GoogleAPICallError) -> float | None:
    """Seconds from Google's ``RetryInfo`` detail, if any."""
    for detail in exc.details or ():
        if isinstance(detail, error_details_pb2.RetryInfo):
            return detail.retry_delay.ToTimedelta().total_seconds()
    return None


def whole_request_error(
    exc: api_exceptions.GoogleAPICallError, customer_id: str
) -> RetryablePlatformError | PermanentPlatformError:
    """What the outbox should do with every item of a request that failed as a whole."""
    status = exc.grpc_status_code.name if exc.grpc_status_code else str(exc.code)
    reason = exc.reason or status
    if isinstance(exc, _RETRYABLE):
        after = retry_delay(exc)
        if after is None and isinstance(exc, api_exceptions.ResourceExhausted):
            after = DEFAULT_QUOTA_WAIT
        return RetryablePlatformError(
            f"Data Manager {status}: {exc.message}",
            platform=PLATFORM,
            code=status,
            retry_after=after,
        )
    if reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT":
        message = MISSING_SCOPE
    elif isinstance(exc, api_exceptions.Unauthenticated):
        message = (
            f"Data Manager refused the credentials ({exc.message}): re-authorise and update "
            "platforms.google_ads.credentials"
        )
    elif isinstance(exc, api_exceptions.PermissionDenied):
        message = (
            f"the authorised Google user cannot upload to customer {customer_id} "
            f"({reason}: {exc.message}): check platforms.google_ads.customer_id and "
            "login_customer_id, and that the user has access to the account"
        )
    else:
        violations = [
            f"{v.field}: {v.description}"
            for d in exc.details or ()
            if isinstance(d, error_details_pb2.BadRequest)
            for v in d.field_violations
        ]
        message = f"Data Manager {status} {reason}: {exc.message}"
        if violations:
            message += " (" + "; ".join(violations) + ")"
    return PermanentPlatformError(message, platform=PLATFORM, code=reason)


def utc(value: datetime) -> datetime:
    """Aware UTC (a naive value is taken as UTC, the storage convention)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
