"""A strict local Data Manager API (``IngestionService`` over gRPC with TLS) for the real SDK.

The unmodified ``google-ads-datamanager`` client talks to it with only its endpoint changed.
Transport: gRPC over TLS, the SDK's default and Google's own protocol; the certificate is the
process-wide one from ``sandbox_kit.tls`` (trusted through ``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``).

Two tiers of errors, as the SDK's types describe the real API:

* **Request validation** (``ErrorReason``): any invalid event fails the whole request with
  ``INVALID_ARGUMENT``, a ``google.rpc.ErrorInfo`` and a ``google.rpc.BadRequest`` whose field
  violations name each failing event (``events[3].event_timestamp``).
* **Processing** (``ProcessingErrorReason``): checks that need Google's data (the click, its age,
  consent, an already used ``transaction_id``) do not fail the request; the event is not kept
  and ``RetrieveRequestStatus`` reports it in ``error_info.error_counts``.

Processing takes time, as at Google: ``RetrieveRequestStatus`` answers ``PROCESSING`` until
``processing_seconds`` (on the sandbox clock) have passed since the ingest, then the final
``SUCCESS``, ``PARTIAL_SUCCESS`` or ``FAILED``. ``fail_processing`` makes an event fail
processing with a given ``ProcessingErrorReason``, so a request can end ``FAILED`` later.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.ads import datamanager_v1 as dm
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from platforms.sandbox_kit.faults import Fault, FaultPlan
from platforms.sandbox_kit.oauth import TokenIssuer
from platforms.sandbox_kit.tls import shared_certificate

SERVICE = "google.ads.datamanager.v1.IngestionService"
SCOPE = "https://www.googleapis.com/auth/datamanager"
DOMAIN = "datamanager.googleapis.com"
MAX_DESTINATIONS = 10
MAX_EVENTS = 2000
MAX_USER_IDENTIFIERS = 10
MIN_CLICK_AGE = timedelta(hours=6)
MIN_ACTION_AGE = timedelta(hours=6)
#: Google Ads imports conversions up to 90 days after the click; an event older than that can
#: never count. (unverified for Data Manager's synchronous check: the stricter reading.)
MAX_EVENT_AGE = timedelta(days=90)
#: Clock skew tolerated for event timestamps in the future (unverified: stricter reading).
FUTURE_SKEW = timedelta(minutes=5)
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_HEX = re.compile(r"^[0-9a-fA-F]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EVENT_PATH = re.compile(r"^events\[(\d+)\]")
_CONSENT_VALUES = {int(v) for v in dm.ConsentStatus}
_GOOGLE_ADS = int(dm.ProductAccount.AccountType.GOOGLE_ADS)

Status = dm.RequestStatusPerDestination.RequestStatus
Reason = dm.ErrorReason
Processing = dm.ProcessingErrorReason


@dataclass
class ConversionAction:
    """A conversion action the sandbox knows, with its click-through window."""

    account_id: str
    action_id: str
    click_window_days: int = 90
    created_at: datetime | None = None


@dataclass
class _DestinationResult:
    destination: Any  # destination_pb2.Destination
    records: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    #: When processing is done (sandbox clock): PROCESSING until then.
    done_at: datetime | None = None


class _Abort(Exception):
    """A failed RPC in Google's shape: a ``google.rpc.Status`` with typed details."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str,
        *,
        domain: str = DOMAIN,
        violations: list[error_details_pb2.BadRequest.FieldViolation] | None = None,
        metadata: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        details = [error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=metadata)]
        if violations:
            details.append(error_details_pb2.BadRequest(field_violations=violations))
        if retry_after is not None:
            delay = duration_pb2.Duration()
            delay.FromTimedelta(timedelta(seconds=retry_after))
            details.append(error_details_pb2.RetryInfo(retry_delay=delay))
        packed = []
        for detail in details:
            item = any_pb2.Any()
            item.Pack(detail)
            packed.append(item)
        self.status = status_pb2.Status(
            code=getattr(code_pb2, code.name), message=message, details=packed
        )


def _violation(
    path: str, reason: Reason, description: str
) -> error_details_pb2.BadRequest.FieldViolation:
    return error_details_pb2.BadRequest.FieldViolation(
        field=path, description=description, reason=reason.name
    )


class DataManagerServer:
    """The emulator: seed accounts, conversion actions and clicks; read ``accepted``.

    ``clock`` is the sandbox's idea of now (tests inject it so click ages are exact);
    the per-minute quota uses the monotonic clock so that it drains in real time. With
    ``unknown_clicks=False`` a click ID that was never seeded fails processing with
    ``CLICK_NOT_FOUND``, as it would at Google; by default it is taken on trust.
    ``processing_seconds``: how long after an ingest its status stays ``PROCESSING``.
    """

    name = "google_ads_datamanager"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        issuer: TokenIssuer | None = None,
        clock: Callable[[], datetime] | None = None,
        requests_per_minute: int = 300,
        unknown_clicks: bool = True,
        processing_seconds: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.faults = faults or FaultPlan.none()
        self.issuer = issuer or TokenIssuer()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.requests_per_minute = requests_per_minute
        self.unknown_clicks = unknown_clicks
        self.processing_seconds = processing_seconds
        #: ``fail_processing``: transaction_id -> the ProcessingErrorReason it fails with.
        self._fail_processing: dict[str, Processing] = {}
        self.host = host
        self.requests = 0
        #: RPCs received, by method name (``IngestEvents``, ``RetrieveRequestStatus``).
        self.calls: Counter[str] = Counter()
        self.accepted: list[dict[str, Any]] = []
        #: Events a request failed on, with the violation's ``reason`` as ``code`` and its
        #: description as ``message`` (the request itself fails, naming them by index).
        self.rejected: list[dict[str, Any]] = []
        #: ``fail_item``: transaction_id -> permanent (True) or transient once (False).
        self._fail: dict[str, bool] = {}
        #: Called with each kept conversion (the composing sandbox shares it with the Google
        #: Ads API emulator, so that adjustments find conversions uploaded here).
        self.on_accept: Callable[[dict[str, Any]], None] | None = None
        #: (account, action) -> (ErrorReason name, message) when Google refuses the action
        #: (not enabled, not an upload type); set by the composing sandbox.
        self.action_refusal: Callable[[str, str], tuple[str, str] | None] | None = None
        self.accounts: set[str] = set()
        self.conversion_actions: dict[tuple[str, str], ConversionAction] = {}
        self.clicks: dict[str, datetime] = {}
        self._statuses: dict[str, list[_DestinationResult]] = {}
        self._seen: set[tuple[str, str, str]] = set()
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self._port: int | None = None

    # -- seed ----------------------------------------------------------------------------------
    def add_account(self, account_id: str) -> None:
        """A Google Ads customer the authorised user can operate."""
        self.accounts.add(account_id.replace("-", ""))

    def add_conversion_action(
        self,
        account_id: str,
        action_id: str,
        *,
        click_window_days: int = 90,
        created_at: datetime | None = None,
    ) -> None:
        """A conversion action (``product_destination_id``) of ``account_id``."""
        account_id = account_id.replace("-", "")
        self.add_account(account_id)
        self.conversion_actions[(account_id, action_id)] = ConversionAction(
            account_id, action_id, click_window_days, created_at
        )

    def add_click(self, click_id: str, click_time: datetime) -> None:
        """A gclid, gbraid or wbraid Google has seen, so click rules can be checked."""
        self.clicks[click_id] = click_time

    def fail_item(self, key: str, *, permanent: bool) -> None:
        """Fail the event with transaction_id ``key`` the ways Data Manager fails requests.

        ``permanent``: the request fails with INVALID_ARGUMENT and a ``BadRequest`` field
        violation naming the event (``events[i]``, reason INVALID_EVENT), every time.
        Otherwise, once, the request carrying it fails with RESOURCE_EXHAUSTED and a
        ``RetryInfo`` of ``faults.retry_after_seconds``: Data Manager has no per-event
        transient error.
        """
        with self._lock:
            self._fail[key] = permanent

    def fail_processing(
        self,
        key: str,
        reason: Processing | str = Processing.PROCESSING_ERROR_REASON_INVALID_GCLID,
    ) -> None:
        """Have the event with transaction_id ``key`` fail processing with ``reason``.

        The ingest succeeds (a request_id, nothing refused); the event is not kept, and once
        processing is done ``RetrieveRequestStatus`` counts it under ``reason``, as Google
        reports a failure found after the request was accepted.
        """
        with self._lock:
            self._fail_processing[key] = (
                Processing[reason] if isinstance(reason, str) else Processing(reason)
            )

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """``host:port`` for ``client_options.api_endpoint``."""
        if self._port is None:
            raise RuntimeError("Data Manager sandbox is not started")
        return f"{self.host}:{self._port}"

    def start(self) -> DataManagerServer:
        """Serve over TLS on a free port (the shared localhost certificate)."""
        cert = shared_certificate()
        handlers = {
            "IngestEvents": grpc.unary_unary_rpc_method_handler(
                self._ingest_events,
                request_deserializer=dm.IngestEventsRequest.pb().FromString,
                response_serializer=lambda m: m.SerializeToString(),
            ),
            "RetrieveRequestStatus": grpc.unary_unary_rpc_method_handler(
                self._retrieve_request_status,
                request_deserializer=dm.RetrieveRequestStatusRequest.pb().FromString,
                response_serializer=lambda m: m.SerializeToString(),
            ),
        }
        server = grpc.server(
            ThreadPoolExecutor(max_workers=8, thread_name_prefix="sandbox-datamanager"),
            options=[("grpc.max_receive_message_length", 64 * 1024 * 1024)],
        )
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))
        credentials = grpc.ssl_server_credentials([(cert.key_pem, cert.cert_pem)])
        self._port = server.add_secure_port(f"{self.host}:0", credentials)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving; in-flight calls are cancelled."""
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None

    def __enter__(self) -> DataManagerServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- RPC plumbing --------------------------------------------------------------------------
    def _ingest_events(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._serve(context, "IngestEvents", lambda: self._ingest(request))

    def _retrieve_request_status(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self._serve(context, "RetrieveRequestStatus", lambda: self._status(request))

    def _serve(self, context: grpc.ServicerContext, method: str, work: Callable[[], Any]) -> Any:
        with self._lock:
            self.requests += 1
            self.calls[method] += 1
        if self.faults.latency_seconds:  # the network's share of every call, as HttpEmulator
            time.sleep(self.faults.latency_seconds)
        fault = self.faults.draw()
        try:
            self._fault_before(fault, context)
            self._authorize(context, method)
            self._take_quota()
            response = work()
            if fault is Fault.LOST_RESPONSE:
                raise _Abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer", "UNAVAILABLE")
            return response
        except _Abort as abort:
            context.abort_with_status(rpc_status.to_status(abort.status))

    def _fault_before(self, fault: Fault | None, context: grpc.ServicerContext) -> None:
        if fault is Fault.RATE_LIMIT:
            raise _quota_error(self.faults.retry_after_seconds)
        if fault is Fault.SERVER_ERROR:
            raise _Abort(
                grpc.StatusCode.INTERNAL, "An internal error has occurred.", "INTERNAL_ERROR"
            )
        if fault in (Fault.UNAVAILABLE, Fault.DROP):
            # gRPC cannot drop one call's connection; UNAVAILABLE is what the client sees.
            raise _Abort(grpc.StatusCode.UNAVAILABLE, "The service is unavailable.", "UNAVAILABLE")
        if fault is Fault.SLOW:
            time.sleep(self.faults.slow_seconds)
        if fault is Fault.TIMEOUT:
            deadline = time.monotonic() + self.faults.timeout_seconds
            while context.is_active() and time.monotonic() < deadline:
                time.sleep(0.01)
            raise _Abort(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "The request took too long to respond.",
                "DEADLINE_EXCEEDED",
            )

    def _authorize(self, context: grpc.ServicerContext, method: str) -> None:
        metadata = dict(context.invocation_metadata())
        problem = self.issuer.check(metadata.get("authorization"), SCOPE)
        if problem is None:
            return
        if problem.startswith("PERMISSION_DENIED"):
            raise _Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "Request had insufficient authentication scopes.",
                "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                domain="googleapis.com",
                metadata={"service": DOMAIN, "method": f"{SERVICE}.{method}"},
            )
        missing = "missing" in problem
        raise _Abort(
            grpc.StatusCode.UNAUTHENTICATED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            "CREDENTIALS_MISSING" if missing else "ACCESS_TOKEN_EXPIRED",
            domain="googleapis.com",
            metadata={"service": DOMAIN, "method": f"{SERVICE}.{method}"},
        )

    def _take_quota(self) -> None:
        now = time.monotonic()
        with self._lock:
            while self._recent and now - self._recent[0] >= 60:
                self._recent.popleft()
            if len(self._recent) >= self.requests_per_minute:
                raise _quota_error(max(1.0, 60 - (now - self._recent[0])))
            self._recent.append(now)

    # -- IngestEvents --------------------------------------------------------------------------
    def _ingest(self, request: Any) -> Any:
        now = self.clock()
        if not request.validate_only:
            with self._lock:
                transient = [
                    e.transaction_id
                    for e in request.events
                    if self._fail.get(e.transaction_id) is False
                ]
                for key in transient:
                    del self._fail[key]
            if transient:
                raise _quota_error(self.faults.retry_after_seconds)
        self._validate(request, now)
        if request.validate_only:
            return dm.IngestEventsResponse.pb()()
        request_id = uuid.uuid4().hex
        done_at = now + timedelta(seconds=self.processing_seconds)
        results = [_DestinationResult(d, done_at=done_at) for d in request.destinations]
        with self._lock:
            for event in request.events:
                consent = _effective_consent(event, request)
                for result in results:
                    refs = list(event.destination_references)
                    if refs and result.destination.reference not in refs:
                        continue
                    result.records += 1
                    problem = self._processing_error(event, result.destination, consent, now)
                    if problem is not None:
                        result.errors[problem.name] += 1
                        continue
                    self._keep(request_id, event, result.destination)
            self._statuses[request_id] = results
        return dm.IngestEventsResponse.pb()(request_id=request_id)

    def _validate(self, request: Any, now: datetime) -> None:
        """Raise INVALID_ARGUMENT (or PERMISSION_DENIED) for anything the real API refuses."""
        if not request.destinations:
            raise _invalid([_violation("destinations", Reason.REQUIRED_FIELD_MISSING, "empty")])
        if len(request.destinations) > MAX_DESTINATIONS:
            raise _invalid(
                [
                    _violation(
                        "destinations",
                        Reason.TOO_MANY_DESTINATIONS,
                        f"at most {MAX_DESTINATIONS} destinations per request",
                    )
                ]
            )
        if not request.events:
            raise _invalid([_violation("events", Reason.REQUIRED_FIELD_MISSING, "empty")])
        if len(request.events) > MAX_EVENTS:
            raise _invalid(
                [
                    _violation(
                        "events",
                        Reason.TOO_MANY_EVENTS,
                        f"at most {MAX_EVENTS} events per request, got {len(request.events)}",
                    )
                ]
            )
        violations = self._destination_violations(request.destinations, now)
        references = {d.reference for d in request.destinations if d.reference}
        for index, event in enumerate(request.events):
            violations.extend(_event_violations(index, event, request, references, now))
            if self._fail.get(event.transaction_id):
                violations.append(
                    _violation(
                        f"events[{index}]",
                        Reason.INVALID_EVENT,
                        "the sandbox was told to refuse this event (fail_item)",
                    )
                )
        if violations:
            self._note_rejected(request, violations)
            raise _invalid(violations)

    def _note_rejected(
        self, request: Any, violations: list[error_details_pb2.BadRequest.FieldViolation]
    ) -> None:
        """Record the events the violations name by index."""
        with self._lock:
            for violation in violations:
                found = _EVENT_PATH.match(violation.field)
                if found is None:
                    continue
                event = request.events[int(found.group(1))]
                self.rejected.append(
                    {
                        "key": event.transaction_id or None,
                        "code": violation.reason,
                        "message": violation.description,
                    }
                )

    def _destination_violations(
        self, destinations: Any, now: datetime
    ) -> list[error_details_pb2.BadRequest.FieldViolation]:
        out = []
        references: set[str] = set()
        for index, destination in enumerate(destinations):
            path = f"destinations[{index}]"
            if destination.reference:
                if destination.reference in references:
                    out.append(
                        _violation(
                            f"{path}.reference",
                            Reason.DUPLICATE_DESTINATION_REFERENCE,
                            f"reference {destination.reference!r} used twice",
                        )
                    )
                references.add(destination.reference)
            account = destination.operating_account
            if not destination.HasField("operating_account") or not account.account_id:
                out.append(
                    _violation(
                        f"{path}.operating_account.account_id",
                        Reason.REQUIRED_FIELD_MISSING,
                        "operating_account.account_id is required",
                    )
                )
                continue
            kind = account.account_type or account.product
            if kind != _GOOGLE_ADS:
                out.append(
                    _violation(
                        f"{path}.operating_account.account_type",
                        Reason.INVALID_DESTINATION,
                        "this sandbox emulates GOOGLE_ADS operating accounts only",
                    )
                )
                continue
            if not account.account_id.isdigit():
                out.append(
                    _violation(
                        f"{path}.operating_account.account_id",
                        Reason.INVALID_FORMAT,
                        "a Google Ads account ID is digits only, without hyphens",
                    )
                )
                continue
            for which in ("operating_account", "login_account"):
                if destination.HasField(which):
                    account_id = getattr(destination, which).account_id
                    if account_id not in self.accounts:
                        raise _Abort(
                            grpc.StatusCode.PERMISSION_DENIED,
                            "The caller does not have permission",
                            Reason.PERMISSION_DENIED.name,
                            metadata={"account_id": account_id},
                        )
            action_id = destination.product_destination_id
            action = self.conversion_actions.get((account.account_id, action_id))
            if not action_id:
                out.append(
                    _violation(
                        f"{path}.product_destination_id",
                        Reason.REQUIRED_FIELD_MISSING,
                        "product_destination_id (the conversion action ID) is required",
                    )
                )
            elif action is None:
                out.append(
                    _violation(
                        f"{path}.product_destination_id",
                        Reason.INVALID_CONVERSION_ACTION_ID,
                        f"no conversion action {action_id} in account {account.account_id}",
                    )
                )
            elif action.created_at is not None and now - action.created_at < MIN_ACTION_AGE:
                out.append(
                    _violation(
                        f"{path}.product_destination_id",
                        Reason.CONVERSION_ACTION_TOO_RECENTLY_CREATED,
                        "the conversion action was created less than 6 hours ago",
                    )
                )
            elif self.action_refusal and (
                refusal := self.action_refusal(account.account_id, action_id)
            ):
                out.append(
                    _violation(f"{path}.product_destination_id", Reason[refusal[0]], refusal[1])
                )
        return out

    def _processing_error(
        self, event: Any, destination: Any, consent: int, now: datetime
    ) -> Processing | None:
        if event.transaction_id in self._fail_processing:
            return self._fail_processing[event.transaction_id]
        if consent == dm.ConsentStatus.CONSENT_DENIED:
            return Processing.PROCESSING_ERROR_REASON_DENIED_CONSENT
        click_id = _click_id(event)
        click_time = self.clicks.get(click_id) if click_id else None
        if click_id and click_time is None and not self.unknown_clicks:
            return Processing.PROCESSING_ERROR_REASON_CLICK_NOT_FOUND
        if click_time is not None:
            event_time = event.event_timestamp.ToDatetime(tzinfo=UTC)
            action = self.conversion_actions[
                (destination.operating_account.account_id, destination.product_destination_id)
            ]
            if event_time < click_time:
                return Processing.PROCESSING_ERROR_REASON_CONVERSION_PRECEDES_CLICK
            if now - click_time < MIN_CLICK_AGE:
                return Processing.PROCESSING_ERROR_REASON_TOO_RECENT_CLICK
            if now - click_time > timedelta(days=action.click_window_days):
                return Processing.PROCESSING_ERROR_REASON_EVENT_TOO_OLD
        if event.transaction_id:
            key = (
                destination.operating_account.account_id,
                destination.product_destination_id,
                event.transaction_id,
            )
            if key in self._seen:
                return Processing.PROCESSING_ERROR_REASON_DUPLICATE_TRANSACTION_ID
        return None

    def _keep(self, request_id: str, event: Any, destination: Any) -> None:
        account_id = destination.operating_account.account_id
        action_id = destination.product_destination_id
        if event.transaction_id:
            self._seen.add((account_id, action_id, event.transaction_id))
        ids = event.ad_identifiers
        kept = {
            "key": event.transaction_id or None,
            "kind": "conversion",
            "consent_denied": False,  # a denied event fails processing: never kept
            "request_id": request_id,
            "account_id": account_id,
            "conversion_action_id": action_id,
            "transaction_id": event.transaction_id or None,
            "value": event.conversion_value if event.HasField("conversion_value") else None,
            "currency": event.currency or None,
            "gclid": ids.gclid or None,
            "gbraid": ids.gbraid or None,
            "wbraid": ids.wbraid or None,
            "event_time": event.event_timestamp.ToDatetime(tzinfo=UTC),
            "user_identifiers": len(event.user_data.user_identifiers),
        }
        self.accepted.append(kept)
        if self.on_accept is not None:
            self.on_accept(dict(kept))

    # -- RetrieveRequestStatus -----------------------------------------------------------------
    def _status(self, request: Any) -> Any:
        results = self._statuses.get(request.request_id)
        if results is None:
            raise _invalid(
                [
                    _violation(
                        "request_id",
                        Reason.INVALID_REQUEST_ID,
                        "status exists only for accepted requests without validate_only",
                    )
                ]
            )
        statuses = []
        now = self.clock()
        for result in results:
            failed = sum(result.errors.values())
            if result.done_at is not None and now < result.done_at:
                statuses.append(
                    dm.RequestStatusPerDestination(
                        destination=dm.Destination.deserialize(
                            result.destination.SerializeToString()
                        ),
                        request_status=Status.PROCESSING,
                    )
                )
                continue
            if failed == 0:
                state = Status.SUCCESS
            elif failed >= result.records:
                state = Status.FAILED
            else:
                state = Status.PARTIAL_SUCCESS
            status = dm.RequestStatusPerDestination(
                destination=dm.Destination.deserialize(result.destination.SerializeToString()),
                request_status=state,
                events_ingestion_status=dm.RequestStatusPerDestination.IngestEventsStatus(
                    record_count=result.records
                ),
            )
            if failed:
                status.error_info = dm.ErrorInfo(
                    error_counts=[
                        dm.ErrorCount(record_count=count, reason=Processing[name])
                        for name, count in sorted(result.errors.items())
                    ]
                )
            statuses.append(status)
        response = dm.RetrieveRequestStatusResponse(request_status_per_destination=statuses)
        return dm.RetrieveRequestStatusResponse.pb(response)


def _invalid(violations: list[error_details_pb2.BadRequest.FieldViolation]) -> _Abort:
    reason = violations[0].reason if len(violations) == 1 else Reason.INVALID_ARGUMENT.name
    return _Abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        "There was a problem with the request.",
        reason,
        violations=violations,
    )


def _quota_error(retry_after: float) -> _Abort:
    return _Abort(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute' of service "
        f"'{DOMAIN}'.",
        "RATE_LIMIT_EXCEEDED",
        domain="googleapis.com",
        metadata={"service": DOMAIN, "quota_limit": "RequestsPerMinutePerProject"},
        retry_after=retry_after,
    )


def _click_id(event: Any) -> str | None:
    ids = event.ad_identifiers
    return ids.gclid or ids.gbraid or ids.wbraid or None


def _effective_consent(event: Any, request: Any) -> int:
    """Event-level consent overrides the request's."""
    if event.consent.ad_user_data:
        return event.consent.ad_user_data
    return request.consent.ad_user_data


def _event_violations(
    index: int, event: Any, request: Any, references: set[str], now: datetime
) -> list[error_details_pb2.BadRequest.FieldViolation]:
    path = f"events[{index}]"
    out = []
    if not event.HasField("event_timestamp"):
        out.append(
            _violation(
                f"{path}.event_timestamp",
                Reason.REQUIRED_FIELD_MISSING,
                "event_timestamp is required",
            )
        )
    else:
        event_time = event.event_timestamp.ToDatetime(tzinfo=UTC)
        if event_time > now + FUTURE_SKEW or now - event_time > MAX_EVENT_AGE:
            out.append(
                _violation(
                    f"{path}.event_timestamp",
                    Reason.EVENT_TIME_INVALID,
                    f"event_timestamp {event_time.isoformat()} is in the future or older than "
                    f"{MAX_EVENT_AGE.days} days",
                )
            )
    ids = event.ad_identifiers
    click_ids = [name for name in ("gclid", "gbraid", "wbraid") if getattr(ids, name)]
    identifiers = event.user_data.user_identifiers
    if len(click_ids) > 1:
        out.append(
            _violation(
                f"{path}.ad_identifiers",
                Reason.INVALID_EVENT,
                f"set at most one of gclid, gbraid, wbraid (got {', '.join(click_ids)})",
            )
        )
    elif click_ids and click_ids[0] != "gclid" and identifiers:
        out.append(
            _violation(
                f"{path}.user_data",
                Reason.INVALID_EVENT,
                f"{click_ids[0]} cannot be combined with user identifiers",
            )
        )
    if not click_ids and not identifiers:
        out.append(
            _violation(
                path,
                Reason.NO_IDENTIFIERS_PROVIDED,
                "an event needs a gclid, gbraid, wbraid or user identifiers",
            )
        )
    out.extend(_identifier_violations(path, identifiers, request.encoding))
    if event.currency and not _CURRENCY.match(event.currency):
        out.append(
            _violation(
                f"{path}.currency",
                Reason.INVALID_CURRENCY_CODE,
                f"{event.currency!r} is not ISO 4217",
            )
        )
    for name in ("ad_user_data", "ad_personalization"):
        if getattr(event.consent, name) not in _CONSENT_VALUES:
            out.append(
                _violation(
                    f"{path}.consent.{name}", Reason.INVALID_ENUM_VALUE, "unknown consent status"
                )
            )
    for ref in event.destination_references:
        if ref not in references:
            out.append(
                _violation(
                    f"{path}.destination_references",
                    Reason.INVALID_DESTINATION,
                    f"no destination with reference {ref!r} in the request",
                )
            )
    return out


def _identifier_violations(
    path: str, identifiers: Any, encoding: int
) -> list[error_details_pb2.BadRequest.FieldViolation]:
    out = []
    if len(identifiers) > MAX_USER_IDENTIFIERS:
        out.append(
            _violation(
                f"{path}.user_data.user_identifiers",
                Reason.TOO_MANY_USER_IDENTIFIERS,
                f"at most {MAX_USER_IDENTIFIERS} user identifiers per event",
            )
        )
    if identifiers and encoding == dm.Encoding.ENCODING_UNSPECIFIED:
        # Request-level, but caused by this event's user data: the request must say HEX/BASE64.
        out.append(
            _violation(
                "encoding",
                Reason.REQUIRED_FIELD_MISSING,
                "encoding is required when events carry user identifiers",
            )
        )
        return out
    for position, identifier in enumerate(identifiers):
        where = f"{path}.user_data.user_identifiers[{position}]"
        kind = identifier.WhichOneof("identifier")
        if kind in ("email_address", "phone_number"):
            problem = _hash_problem(getattr(identifier, kind), encoding)
            if problem:
                out.append(_violation(f"{where}.{kind}", *problem))
        elif kind == "address":
            address = identifier.address
            for name in ("given_name", "family_name"):
                problem = _hash_problem(getattr(address, name), encoding)
                if problem:
                    out.append(_violation(f"{where}.address.{name}", *problem))
            for name in ("region_code", "postal_code"):
                if not getattr(address, name):
                    out.append(
                        _violation(
                            f"{where}.address.{name}",
                            Reason.REQUIRED_FIELD_MISSING,
                            f"{name} is required",
                        )
                    )
        else:
            out.append(_violation(where, Reason.REQUIRED_FIELD_MISSING, "empty user identifier"))
    return out


def _hash_problem(value: str, encoding: int) -> tuple[Reason, str] | None:
    """Why ``value`` is not a SHA-256 digest in ``encoding``, or None."""
    if encoding == dm.Encoding.BASE64:
        try:
            digest = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return Reason.INVALID_BASE64_ENCODING, "not valid base64"
        if len(digest) != 32:
            return Reason.INVALID_SHA256_FORMAT, "not a SHA-256 digest (32 bytes)"
        return None
    if not _HEX.match(value):
        return Reason.INVALID_HEX_ENCODING, "not valid hex"
    if not _SHA256_HEX.match(value):
        return Reason.INVALID_SHA256_FORMAT, "a SHA-256 digest is 64 lowercase hex characters"
    return None
