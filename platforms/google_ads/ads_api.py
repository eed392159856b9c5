"""Offline conversions through the Google Ads API, for accounts Google still allowlists.

New integrations must use the Data Manager API (``datamanager.py``); this path serves
``platforms.google_ads.api: google_ads`` and restatements/retractions, which Data Manager does
not cover. Partial failure is always on, so one bad row never sinks its batch: every row gets
its own outcome, mapped from the ``GoogleAdsFailure`` by the row's index.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions as core_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.transport.requests import Request as AuthRequest

from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import RESTATEMENT, RETRACTION, Accepted, Outcome, PlannedConversion, Rejected
from platforms.base import Retry as RetryOutcome
from platforms.google_ads.ads_client import API_VERSION, build_ads_client, conversion_action_name
from platforms.google_ads.settings import GoogleAdsSettings

PLATFORM = "google_ads"
MAX_ROWS = 2000
FAILURE_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
MIN_CLICK_AGE = timedelta(hours=6)

#: Codes meaning "Google already has this": a resend after a lost answer lands here.
ALREADY_RECORDED = {"ORDER_ID_ALREADY_IN_USE", "CLICK_CONVERSION_ALREADY_EXISTS"}
ALREADY_ADJUSTED = {"RESTATEMENT_ALREADY_EXISTS"}
#: Per-row codes that succeed later without any change on our side.
RETRY_LATER = {"TOO_RECENT_EVENT", "TOO_RECENT_CONVERSION_ACTION", "TOO_RECENT_CONVERSION"}
TRANSIENT_KINDS = {"internal_error", "quota_error"}
TRANSIENT_STATUS = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
}
SWITCH_TO_DATA_MANAGER = (
    "Google Ads refused UploadClickConversions for customer {customer}: "
    "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE. Since 2026-06-15 only existing users may upload "
    "click conversions through the Google Ads API; set `platforms.google_ads.api: data_manager` "
    "in the config to upload through the Data Manager API instead."
)
AUTH_HINTS = {
    "developer_token": "check platforms.google_ads.developer_token (it must be approved for "
    "production access to reach real accounts)",
    "oauth": "check platforms.google_ads.credentials: the refresh token or service account "
    "must be valid and granted the https://www.googleapis.com/auth/adwords scope",
    "customer": "check platforms.google_ads.customer_id and login_customer_id: the "
    "credentials' user must have access to the account (through the manager account set in "
    "login_customer_id, if any)",
}


class AdsApiUploader:
    """Uploads conversions and adjustments for one Google Ads account through the SDK."""

    def __init__(
        self,
        settings: GoogleAdsSettings,
        *,
        timeout: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.clock = clock or (lambda: datetime.now(UTC))
        self._client: Any = None
        self._services: dict[str, Any] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The ``GoogleAdsClient``, built on first use."""
        with self._lock:
            if self._client is None:
                self._client = build_ads_client(self.settings)
            return self._client

    def service(self, name: str) -> Any:
        """The SDK service client ``name``; one channel each, reused across batches."""
        client = self.client
        with self._lock:
            if name not in self._services:
                self._services[name] = client.get_service(name)
            return self._services[name]

    def close(self) -> None:
        """Close the gRPC channels."""
        with self._lock:
            services, self._services = list(self._services.values()), {}
        for service in services:
            service.transport.close()

    @property
    def customer_id(self) -> str:
        """The account conversions go to (digits only)."""
        return str(self.settings.customer_id)

    # -- click conversions ----------------------------------------------------------------------
    def upload_click_conversions(
        self, batch: list[PlannedConversion], validate_only: bool
    ) -> list[Outcome]:
        """One ``UploadClickConversions`` call; one outcome per item, in order."""
        _check_size(batch)
        if not batch:
            return []
        client = self.client
        request = client.get_type("UploadClickConversionsRequest")
        request.customer_id = self.customer_id
        request.partial_failure = True
        request.validate_only = validate_only
        request.conversions.extend(self._click_conversion(c) for c in batch)
        service = self.service("ConversionUploadService")
        response = self.call(
            lambda: service.upload_click_conversions(request=request, timeout=self.timeout)
        )
        errors = self._row_errors(response)
        outcomes: list[Outcome] = []
        for index, conversion in enumerate(batch):
            if index in errors:
                outcomes.append(self._row_outcome(conversion, errors[index], ALREADY_RECORDED))
            elif validate_only:
                outcomes.append(Accepted(ref=None, diagnostics={"validate_only": True}))
            else:
                outcomes.append(Accepted(ref=conversion.dedup_key))
        return outcomes

    def _click_conversion(self, conversion: PlannedConversion) -> Any:
        row = self.client.get_type("ClickConversion")
        ids = conversion.identifiers
        row.conversion_action = self._action(conversion)
        row.conversion_date_time = format_date_time(conversion.event_time)
        row.conversion_value = float(conversion.value)
        row.currency_code = conversion.currency
        row.order_id = conversion.dedup_key
        if ids.gclid:
            row.gclid = ids.gclid
        elif ids.wbraid:
            row.wbraid = ids.wbraid
        elif ids.gbraid:
            row.gbraid = ids.gbraid
        braid = not ids.gclid and bool(ids.wbraid or ids.gbraid)
        if not braid:  # a braid may not travel with user identifiers
            hashes = [("hashed_email", h) for h in ids.email_sha256] + [
                ("hashed_phone_number", h) for h in ids.phone_sha256
            ]
            for kind, value in hashes[:5]:
                identifier = self.client.get_type("UserIdentifier")
                setattr(identifier, kind, value)
                row.user_identifiers.append(identifier)
        if ids.consent_ad_user_data is not None:
            status = self.client.enums.ConsentStatusEnum
            row.consent.ad_user_data = status.GRANTED if ids.consent_ad_user_data else status.DENIED
        return row

    # -- adjustments ----------------------------------------------------------------------------
    def upload_adjustments(
        self, batch: list[PlannedConversion], validate_only: bool
    ) -> list[Outcome]:
        """One ``UploadConversionAdjustments`` call for restatements and retractions."""
        _check_size(batch)
        outcomes: dict[int, Outcome] = {}
        sendable: list[int] = []
        for index, item in enumerate(batch):
            if item.kind not in (RESTATEMENT, RETRACTION) or not item.adjusts_key:
                outcomes[index] = Rejected(
                    "NOT_AN_ADJUSTMENT",
                    "only restatements and retractions with the original order ID can be sent",
                )
            else:
                sendable.append(index)
        if sendable:
            client = self.client
            request = client.get_type("UploadConversionAdjustmentsRequest")
            request.customer_id = self.customer_id
            request.partial_failure = True
            request.validate_only = validate_only
            request.conversion_adjustments.extend(self._adjustment(batch[i]) for i in sendable)
            service = self.service("ConversionAdjustmentUploadService")
            response = self.call(
                lambda: service.upload_conversion_adjustments(request=request, timeout=self.timeout)
            )
            errors = self._row_errors(response)
            for position, index in enumerate(sendable):
                item = batch[index]
                already = ALREADY_ADJUSTED | (
                    {"CONVERSION_ALREADY_RETRACTED"} if item.kind == RETRACTION else set()
                )
                if position in errors:
                    outcomes[index] = self._row_outcome(item, errors[position], already)
                elif validate_only:
                    outcomes[index] = Accepted(ref=None, diagnostics={"validate_only": True})
                else:
                    outcomes[index] = Accepted(ref=item.dedup_key)
        return [outcomes[i] for i in range(len(batch))]

    def _adjustment(self, item: PlannedConversion) -> Any:
        client = self.client
        row = client.get_type("ConversionAdjustment")
        kinds = client.enums.ConversionAdjustmentTypeEnum
        row.order_id = item.adjusts_key
        row.conversion_action = self._action(item)
        # event_time is the original conversion's; the adjustment happens now (and must
        # follow the conversion), so a later restatement always carries a later time.
        when = max(self.clock(), item.event_time + timedelta(seconds=1))
        row.adjustment_date_time = format_date_time(when)
        if item.kind == RESTATEMENT:
            row.adjustment_type = kinds.RESTATEMENT
            row.restatement_value.adjusted_value = float(item.value)
            row.restatement_value.currency_code = item.currency
        else:
            row.adjustment_type = kinds.RETRACTION
        return row

    # -- shared ---------------------------------------------------------------------------------
    def _action(self, conversion: PlannedConversion) -> str:
        action_id = conversion.options.get("conversion_action_id") or (
            self.settings.conversion_action_id
        )
        return conversion_action_name(self.customer_id, str(action_id))

    def call(self, send: Callable[[], Any]) -> Any:
        """Run one SDK call, turning whole-request failures into ``PlatformError``s."""
        self._refresh_credentials()
        try:
            return send()
        except GoogleAdsException as exc:
            raise self._request_error(exc.failure, exc.error) from exc
        except core_exceptions.GoogleAPICallError as exc:
            raise self._transport_error(exc) from exc
        except grpc.RpcError as exc:
            raise self._transport_error(exc) from exc

    def _refresh_credentials(self) -> None:
        """Refresh up front so a revoked token reads as a config problem, not an outage."""
        credentials = self.client.credentials
        if credentials.valid:
            return
        try:
            credentials.refresh(AuthRequest())
        except auth_exceptions.RefreshError as exc:
            if getattr(exc, "retryable", False):
                raise RetryablePlatformError(
                    f"Google's token endpoint failed: {exc}", platform=PLATFORM, code="OAUTH"
                ) from exc
            raise PermanentPlatformError(
                f"Google refused the OAuth credentials ({exc}); {AUTH_HINTS['oauth']}",
                platform=PLATFORM,
                code="OAUTH_TOKEN_INVALID",
            ) from exc
        except auth_exceptions.TransportError as exc:
            raise RetryablePlatformError(
                f"Google's token endpoint is unreachable: {exc}", platform=PLATFORM, code="OAUTH"
            ) from exc

    def _request_error(self, failure: Any, rpc_error: Any) -> Exception:
        """Turn a whole-request ``GoogleAdsFailure`` into the error the outbox acts on."""
        errors = list(failure.errors) if failure is not None else []
        codes = [error_code(e) for e in errors]
        summary = "; ".join(
            f"{kind}.{name}: {e.message}" for (kind, name), e in zip(codes, errors, strict=True)
        )
        names = {name for _, name in codes}
        kinds = {kind for kind, _ in codes}
        if "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE" in names:
            return PermanentPlatformError(
                SWITCH_TO_DATA_MANAGER.format(customer=self.customer_id),
                platform=PLATFORM,
                code="CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",
            )
        first = codes[0][1] if codes else _status_name(rpc_error)
        if kinds & TRANSIENT_KINDS:
            return RetryablePlatformError(
                f"Google Ads asked to retry later: {summary}",
                platform=PLATFORM,
                code=first,
                retry_after=retry_delay(errors),
            )
        hint = _auth_hint(names, kinds)
        if hint:
            return PermanentPlatformError(
                f"Google Ads refused the request: {summary}; {hint}", platform=PLATFORM, code=first
            )
        return PermanentPlatformError(
            f"Google Ads rejected the whole request: {summary}", platform=PLATFORM, code=first
        )

    def _transport_error(self, exc: Exception) -> Exception:
        """Errors without a ``GoogleAdsFailure`` the SDK did not wrap (quota, 5xx, deadline)."""
        call = getattr(exc, "response", None) or exc
        failure = _failure_from_trailers(call)
        if failure is not None and failure.errors:
            return self._request_error(failure, call)
        status = _status(call)
        message = getattr(exc, "message", None) or str(exc)
        if status in TRANSIENT_STATUS or isinstance(
            exc, core_exceptions.ServerError | core_exceptions.TooManyRequests
        ):
            return RetryablePlatformError(
                f"Google Ads API unavailable ({_status_name(call)}): {message}",
                platform=PLATFORM,
                code=_status_name(call),
            )
        hint = {
            grpc.StatusCode.UNAUTHENTICATED: AUTH_HINTS["oauth"],
            grpc.StatusCode.PERMISSION_DENIED: AUTH_HINTS["oauth"],
        }.get(status, "check the platforms.google_ads settings")
        return PermanentPlatformError(
            f"Google Ads refused the request ({_status_name(call)}: {message}); {hint}",
            platform=PLATFORM,
            code=_status_name(call),
        )

    def _row_errors(self, response: Any) -> dict[int, list[Any]]:
        """Partial-failure errors grouped by the failing row's index."""
        status = response.partial_failure_error
        if not status.details:
            return {}
        failure_type = self.client.get_type("GoogleAdsFailure")
        by_row: dict[int, list[Any]] = {}
        for detail in status.details:
            failure = type(failure_type).deserialize(detail.value)
            for err in failure.errors:
                elements = err.location.field_path_elements
                if elements and "index" in elements[0]:
                    by_row.setdefault(elements[0].index, []).append(err)
        return by_row

    def _row_outcome(
        self, conversion: PlannedConversion, errors: list[Any], already: set[str]
    ) -> Outcome:
        kind, name = error_code(errors[0])
        message = "; ".join(f"{'.'.join(error_code(e))}: {e.message}" for e in errors)
        if name in already:
            return Accepted(ref=conversion.dedup_key, diagnostics={"already_recorded": name})
        if name in RETRY_LATER or kind in TRANSIENT_KINDS:
            return RetryOutcome(name, message, self._retry_after(conversion, name, errors))
        return Rejected(name, message)

    def _retry_after(self, conversion: PlannedConversion, name: str, errors: list[Any]) -> float:
        delay = retry_delay(errors)
        if delay is not None:
            return delay
        if name == "TOO_RECENT_EVENT" and conversion.identifiers.click_time is not None:
            ready = conversion.identifiers.click_time + MIN_CLICK_AGE
            return max((ready - self.clock()).total_seconds(), 60.0)
        return MIN_CLICK_AGE.total_seconds() if name in RETRY_LATER else 60.0


def format_date_time(moment: datetime) -> str:
    """``yyyy-mm-dd hh:mm:ss+hh:mm`` in the moment's own offset (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M:%S}{offset[:3]}:{offset[3:]}"


def error_code(err: Any) -> tuple[str, str]:
    """``("conversion_upload_error", "EXPIRED_EVENT")`` for a ``GoogleAdsError``."""
    code = err.error_code
    kind = type(code).pb(code).WhichOneof("error_code") or "unknown"
    value = getattr(code, kind, None)
    return kind, getattr(value, "name", str(value))


def retry_delay(errors: list[Any]) -> float | None:
    """The retry delay Google put in a quota error's details, in seconds."""
    for err in errors:
        if "details" in err and "quota_error_details" in err.details:
            delay = err.details.quota_error_details.retry_delay
            if delay:
                return float(delay.total_seconds())
    return None


def _check_size(batch: list[PlannedConversion]) -> None:
    if len(batch) > MAX_ROWS:
        raise ValueError(f"at most {MAX_ROWS} rows per request, got {len(batch)}")


def _auth_hint(names: set[str], kinds: set[str]) -> str | None:
    if any("DEVELOPER_TOKEN" in n for n in names):
        return AUTH_HINTS["developer_token"]
    if any(n.startswith("OAUTH") for n in names):
        return AUTH_HINTS["oauth"]
    if kinds & {"authentication_error", "authorization_error", "header_error"}:
        return AUTH_HINTS["customer"]
    return None


def _failure_from_trailers(call: Any) -> Any:
    trailers = getattr(call, "trailing_metadata", None)
    if not callable(trailers):
        return None
    from google.ads.googleads.v26.errors.types.errors import GoogleAdsFailure

    for key, value in trailers() or ():
        if key == FAILURE_KEY:
            try:
                return GoogleAdsFailure.deserialize(value)
            except Exception:  # a garbled trailer must not hide the status code
                return None
    return None


def _status(call: Any) -> grpc.StatusCode | None:
    code = getattr(call, "code", None)
    if callable(code):
        try:
            found = code()
        except Exception:
            return None
        return found if isinstance(found, grpc.StatusCode) else None
    return None


def _status_name(call: Any) -> str:
    status = _status(call)
    return status.name if status is not None else "UNKNOWN"
