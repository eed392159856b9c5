"""A local Google Ads API (gRPC over TLS) that the unmodified ``google-ads`` SDK talks to.

It serves the three services closedloop uses -- ``ConversionUploadService``,
``ConversionAdjustmentUploadService`` and ``GoogleAdsService.SearchStream`` -- with the SDK's own
proto-plus messages on the wire, and answers failures the way Google does: a ``GoogleAdsFailure``
in the ``google.ads.googleads.<version>.errors.googleadsfailure-bin`` trailer for request-level
errors, and a ``partial_failure_error`` (``google.rpc.Status`` holding a ``GoogleAdsFailure``)
for per-row errors. The limits it enforces are listed in shared/platform-limits.md.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import grpc
from google.ads.googleads.v26.enums.types.conversion_adjustment_type import (
    ConversionAdjustmentTypeEnum,
)
from google.ads.googleads.v26.errors.types import errors as ads_errors
from google.ads.googleads.v26.services.types import conversion_adjustment_upload_service as adj
from google.ads.googleads.v26.services.types import conversion_upload_service as cup
from google.ads.googleads.v26.services.types import google_ads_service as gas
from google.protobuf import any_pb2
from google.rpc import status_pb2
from werkzeug.wrappers import Request, Response

from platforms.google_ads.ads_client import ADWORDS_SCOPE, API_VERSION
from platforms.google_ads.sandbox import click_view
from platforms.google_ads.sandbox import conversion_actions as catalog
from platforms.sandbox_kit import Fault, FaultPlan, HttpEmulator, TokenIssuer
from platforms.sandbox_kit.oauth import TOKEN_PATH
from platforms.sandbox_kit.tls import shared_certificate

FAILURE_KEY = f"google.ads.googleads.{API_VERSION}.errors.googleadsfailure-bin"
FAILURE_TYPE_URL = f"type.googleapis.com/google.ads.googleads.{API_VERSION}.errors.GoogleAdsFailure"
_SERVICES = f"google.ads.googleads.{API_VERSION}.services"

MAX_ROWS_PER_REQUEST = 2000
MAX_USER_IDENTIFIERS = 5
MIN_CLICK_AGE = timedelta(hours=6)
MAX_CLICK_AGE = timedelta(days=90)
ADJUSTMENT_WINDOW = timedelta(days=54)
STREAM_BATCH = 10_000
#: Basic access: 15,000 operations per day (Explorer access has 2,880).
BASIC_ACCESS_DAILY_OPERATIONS = 15_000

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
_ACTION_NAME = re.compile(r"^customers/(\d+)/conversionActions/(\d+)$")
# Click IDs are URL-safe base64; anything else cannot be decoded.
_CLICK_ID = re.compile(r"^[A-Za-z0-9_\-]{4,}$")
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Google's PII check on order IDs is not published; an email address or an E.164 phone number
# is the stricter reading of "must not contain PII" (unverified).
_PII = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}|\+\d{10,15}")
_PACIFIC = ZoneInfo("America/Los_Angeles")

Error = ads_errors.GoogleAdsError
Path = list[tuple[str, int | None]]


def error(kind: str, name: str, message: str, path: Path | None = None) -> Error:
    """A ``GoogleAdsError`` with ``error_code.<kind> = <name>`` located at ``path``."""
    enum = ads_errors.ErrorCode.meta.fields[kind].enum
    elements = [
        ads_errors.ErrorLocation.FieldPathElement(field_name=name_, index=index)
        if index is not None
        else ads_errors.ErrorLocation.FieldPathElement(field_name=name_)
        for name_, index in path or []
    ]
    found = Error(error_code=ads_errors.ErrorCode(**{kind: enum[name]}), message=message)
    if elements:
        found.location = ads_errors.ErrorLocation(field_path_elements=elements)
    return found


def parse_date_time(text: str) -> datetime | None:
    """``yyyy-mm-dd hh:mm:ss+|-hh:mm`` as an aware datetime, or None when malformed."""
    if not _DATE_TIME.match(text):
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S%z")
    except ValueError:
        return None


class _Abort(Exception):
    """A request-level failure: status code plus the ``GoogleAdsFailure`` errors."""

    def __init__(self, code: grpc.StatusCode, message: str, errors: list[Error]) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.errors = errors


@dataclass
class _Customer:
    customer_id: str
    allowlisted: bool
    currency: str
    name: str


@dataclass
class _Action:
    click_window_days: int
    created_at: datetime | None


@dataclass
class _Click:
    kind: str  # gclid | gbraid | wbraid
    click_id: str
    click_time: datetime
    customer_id: str | None
    source: click_view.ClickSource | None = None


@dataclass
class _Conversion:
    customer_id: str
    action_id: str
    order_id: str | None
    click_kind: str
    click_id: str
    conversion_date_time: str
    conversion_time: datetime
    value: float | None
    currency: str
    original_value: float | None
    restated: bool = False
    retracted: bool = False
    last_restatement: datetime | None = None
    adjustments: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "conversion_action_id": self.action_id,
            "order_id": self.order_id,
            self.click_kind: self.click_id,
            "gclid": self.click_id if self.click_kind == "gclid" else None,
            "conversion_date_time": self.conversion_date_time,
            "value": self.value,
            "original_value": self.original_value,
            "currency": self.currency,
            "restated": self.restated,
            "retracted": self.retracted,
            "adjustments": [dict(a) for a in self.adjustments],
        }


@dataclass
class _Spend:
    customer_id: str
    day: date
    campaign_id: str
    campaign: str
    ad_group_id: str | None
    ad_group: str | None
    keyword_id: str | None
    keyword: str | None
    cost_micros: int
    clicks: int
    impressions: int
    channel_type: str = "SEARCH"


class _TokenEndpoint(HttpEmulator):
    """Serves a ``TokenIssuer`` at ``/token`` when no composing sandbox shares one."""

    name = "google-ads-oauth"

    def __init__(self, issuer: TokenIssuer) -> None:
        super().__init__()
        self.issuer = issuer

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        if request.path != TOKEN_PATH:
            return Response("not found", status=404)(environ, start_response)
        return self.issuer.handle(request)(environ, start_response)


class GoogleAdsApiServer:
    """The Google Ads API emulator: seed it, start it, point ``endpoint`` at it.

    ``token_issuer`` lets a composing sandbox share one OAuth issuer; without it the server
    starts its own token endpoint (``token_uri``). ``clock`` gives "now" for click ages and
    adjustment windows.
    """

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        issuer: TokenIssuer | None = None,
        developer_token: str | None = "sandbox-developer-token",
        clock: Callable[[], datetime] | None = None,
        customer_id: str | None = None,
        conversion_action_id: str | None = None,
        allowlisted: bool = False,
        daily_operations: int | None = BASIC_ACCESS_DAILY_OPERATIONS,
        workers: int = 8,
    ) -> None:
        self.faults = faults or FaultPlan.none()
        self.token_issuer = issuer or TokenIssuer()
        self._token_endpoint = None if issuer else _TokenEndpoint(self.token_issuer)
        #: ``None`` accepts any developer token (but one must still be sent).
        self.developer_token = developer_token
        self.clock = clock or (lambda: datetime.now(UTC))
        self.daily_operations = daily_operations
        self.workers = workers
        self.requests = 0
        self.requests_by_method: Counter[str] = Counter()
        self._customers: dict[str, _Customer] = {}
        self._actions: dict[tuple[str, str], _Action] = {}
        self._clicks: dict[str, _Click] = {}
        self._conversions: list[_Conversion] = []
        # Indexes for Google's dedup rules: by order ID, and by click + conversion time.
        self._by_order: dict[tuple[str, str, str], _Conversion] = {}
        self._by_click: dict[tuple[str, str, str, str, datetime], _Conversion] = {}
        self._spend: list[_Spend] = []
        #: Conversion actions' names, types, statuses; the customers' data-terms flags.
        self.catalog = catalog.ActionCatalog()
        self._operations: dict[date, int] = defaultdict(int)
        self._lock = threading.RLock()
        self._server: grpc.Server | None = None
        self._port: int | None = None
        if customer_id:
            self.add_customer(customer_id, allowlisted)
            if conversion_action_id:
                self.add_conversion_action(customer_id, conversion_action_id)

    # -- seeding --------------------------------------------------------------------------------
    def add_customer(
        self,
        customer_id: str,
        allowlisted: bool = False,
        *,
        currency: str = "USD",
        name: str | None = None,
    ) -> None:
        """A Google Ads account; only allowlisted ones may call UploadClickConversions."""
        cid = customer_id.replace("-", "")
        self._customers[cid] = _Customer(cid, allowlisted, currency, name or f"Account {cid}")

    def add_conversion_action(
        self,
        customer_id: str | None = None,
        action_id: str | None = None,
        click_window_days: int = 90,
        *,
        created_at: datetime | None = None,
    ) -> None:
        """A conversion action with its click-through window (1..90 days).

        ``customer_id`` defaults to the first customer added; an action created less than 6
        hours before "now" refuses uploads (TOO_RECENT_CONVERSION_ACTION).
        """
        if action_id is None:
            raise ValueError("action_id is required")
        cid = (customer_id or next(iter(self._customers))).replace("-", "")
        self._actions[(cid, str(action_id))] = _Action(click_window_days, created_at)

    def add_click(
        self,
        click_id: str,
        click_time: datetime,
        *,
        kind: str = "gclid",
        customer_id: str | None = None,
        source: click_view.ClickSource | None = None,
    ) -> None:
        """An ad click Google knows about (``kind`` is gclid, gbraid or wbraid).

        ``source`` is the campaign/ad group/keyword it came from; only gclids with one are
        served by ``click_view`` (gbraid/wbraid clicks are not in that report).
        """
        if kind not in ("gclid", "gbraid", "wbraid"):
            raise ValueError(f"unknown click kind {kind!r}")
        owner = customer_id.replace("-", "") if customer_id else None
        self._clicks[click_id] = _Click(kind, click_id, click_time, owner, source)

    def record_conversion(self, kept: dict[str, Any]) -> None:
        """A conversion the account received through Data Manager, so adjustments find it.

        ``kept`` is one ``DataManagerServer.accepted`` entry (``sandbox.py`` wires this up).
        """
        kind = next((k for k in ("gclid", "gbraid", "wbraid") if kept.get(k)), "gclid")
        when: datetime = kept["event_time"]
        customer = self._customers.get(kept["account_id"])
        with self._lock:
            self._keep(
                _Conversion(
                    customer_id=kept["account_id"],
                    action_id=kept["conversion_action_id"],
                    order_id=kept.get("transaction_id"),
                    click_kind=kind,
                    click_id=kept.get(kind) or "",
                    conversion_date_time=when.strftime("%Y-%m-%d %H:%M:%S+00:00"),
                    conversion_time=when,
                    value=kept.get("value"),
                    original_value=kept.get("value"),
                    currency=kept.get("currency") or (customer.currency if customer else "USD"),
                )
            )

    def add_spend(
        self,
        day: date,
        *,
        campaign_id: str,
        campaign: str,
        cost: Decimal | str,
        clicks: int = 0,
        impressions: int = 0,
        ad_group_id: str | None = None,
        ad_group: str | None = None,
        keyword_id: str | None = None,
        keyword: str | None = None,
        customer_id: str | None = None,
        channel_type: str = "SEARCH",
    ) -> None:
        """Cost for a day; rows without an ad group are campaign-level spend (e.g. PMax).

        ``channel_type`` is the campaign's ``advertising_channel_type`` (SEARCH, DISPLAY...).
        """
        click_view.ClickSource(str(campaign_id), campaign, channel_type)  # refuses bad types
        micros = Decimal(cost) * 1_000_000
        if micros != micros.to_integral_value():
            raise ValueError("cost must have at most 6 decimal places")
        cid = (customer_id or next(iter(self._customers))).replace("-", "")
        self._spend.append(
            _Spend(
                cid,
                day,
                str(campaign_id),
                campaign,
                ad_group_id,
                ad_group,
                keyword_id,
                keyword,
                int(micros),
                clicks,
                impressions,
                channel_type,
            )
        )

    def credentials_info(
        self, client_id: str = "sandbox-client", client_secret: str = "sandbox-secret"
    ) -> dict[str, str]:
        """Register a refresh token with the AdWords scope; Google's ``authorized_user`` JSON."""
        refresh_token = "sandbox-refresh-" + uuid.uuid4().hex
        self.token_issuer.add_refresh_token(
            refresh_token, client_id, client_secret, {ADWORDS_SCOPE}
        )
        info = {
            "type": "authorized_user",
            "client_id": client_id,
            "client_secret": client_secret,
            "refresh_token": refresh_token,
        }
        if self._token_endpoint is not None:
            info["token_uri"] = self.token_uri
        return info

    # -- inspection -----------------------------------------------------------------------------
    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Conversions Google kept, after its dedup and with adjustments applied."""
        with self._lock:
            return [c.as_dict() for c in self._conversions]

    @property
    def endpoint(self) -> str:
        """``localhost:<port>``, the value for ``platforms.google_ads.endpoint``."""
        if self._port is None:
            raise RuntimeError("Google Ads API sandbox is not started")
        return f"localhost:{self._port}"

    @property
    def token_uri(self) -> str:
        """The OAuth token endpoint this server started (only without a shared issuer)."""
        if self._token_endpoint is None:
            raise RuntimeError("the token issuer is served by the composing sandbox")
        return self._token_endpoint.url + TOKEN_PATH

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> GoogleAdsApiServer:
        """Serve gRPC over TLS on 127.0.0.1:<free port> (and the token endpoint if ours)."""
        cert = shared_certificate()
        if self._token_endpoint is not None:
            self._token_endpoint.start()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.workers))
        server.add_generic_rpc_handlers(self._handlers())
        credentials = grpc.ssl_server_credentials([(cert.key_pem, cert.cert_pem)])
        self._port = server.add_secure_port("127.0.0.1:0", credentials)
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        """Stop serving; in-flight calls are cancelled."""
        if self._server is not None:
            self._server.stop(grace=None)
            self._server = None
        if self._token_endpoint is not None:
            self._token_endpoint.stop()

    def __enter__(self) -> GoogleAdsApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handlers(self) -> tuple[grpc.GenericRpcHandler, ...]:
        upload = grpc.unary_unary_rpc_method_handler(
            self._wrap_unary("UploadClickConversions", self._upload_click_conversions),
            request_deserializer=cup.UploadClickConversionsRequest.deserialize,
            response_serializer=cup.UploadClickConversionsResponse.serialize,
        )
        adjust = grpc.unary_unary_rpc_method_handler(
            self._wrap_unary("UploadConversionAdjustments", self._upload_adjustments),
            request_deserializer=adj.UploadConversionAdjustmentsRequest.deserialize,
            response_serializer=adj.UploadConversionAdjustmentsResponse.serialize,
        )
        stream = grpc.unary_stream_rpc_method_handler(
            self._search_stream,
            request_deserializer=gas.SearchGoogleAdsStreamRequest.deserialize,
            response_serializer=gas.SearchGoogleAdsStreamResponse.serialize,
        )
        return (
            grpc.method_handlers_generic_handler(
                f"{_SERVICES}.ConversionUploadService", {"UploadClickConversions": upload}
            ),
            grpc.method_handlers_generic_handler(
                f"{_SERVICES}.ConversionAdjustmentUploadService",
                {"UploadConversionAdjustments": adjust},
            ),
            grpc.method_handlers_generic_handler(
                f"{_SERVICES}.GoogleAdsService", {"SearchStream": stream}
            ),
        )

    # -- the request pipeline: count, faults, auth, quota, then the method ----------------------
    def _wrap_unary(
        self, method: str, handler: Callable[[Any, str], Any]
    ) -> Callable[[Any, grpc.ServicerContext], Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            request_id = uuid.uuid4().hex[:22]
            try:
                fault = self._begin(method, request, context)
                response = handler(request, request_id)
            except _Abort as abort:
                _abort(context, abort, request_id)
            if fault is Fault.LOST_RESPONSE:
                # Google did the work; the answer never reaches the client.
                context.abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")
            context.set_trailing_metadata((("request-id", request_id),))
            return response

        return call

    def _begin(self, method: str, request: Any, context: grpc.ServicerContext) -> Fault | None:
        with self._lock:
            self.requests += 1
            self.requests_by_method[method] += 1
        if self.faults.latency_seconds:
            time.sleep(self.faults.latency_seconds)
        fault = self.faults.draw()
        if fault is Fault.RATE_LIMIT:
            raise _quota("RESOURCE_TEMPORARILY_EXHAUSTED", self.faults.retry_after_seconds)
        if fault is Fault.SERVER_ERROR:
            raise _Abort(
                grpc.StatusCode.INTERNAL,
                "Internal error encountered.",
                [error("internal_error", "INTERNAL_ERROR", "An internal error has occurred.")],
            )
        if fault in (Fault.UNAVAILABLE, Fault.DROP):
            context.abort(grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")
        if fault is Fault.SLOW:
            time.sleep(self.faults.slow_seconds)
        if fault is Fault.TIMEOUT:
            # Hold the call until the client gives up (or our timeout passes), then drop it.
            remaining = context.time_remaining()
            wait = self.faults.timeout_seconds
            if remaining is not None:
                wait = min(wait, remaining + 0.05)
            time.sleep(max(wait, 0.0))
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        self._authenticate(context, getattr(request, "customer_id", ""))
        self._charge(method, request)
        return fault

    def _authenticate(self, context: grpc.ServicerContext, customer_id: str) -> None:
        metadata = {key: value for key, value in context.invocation_metadata()}
        reason = self.token_issuer.check(metadata.get("authorization"), ADWORDS_SCOPE)
        if reason and reason.startswith("PERMISSION_DENIED"):
            # Google's front end answers scope problems before the Ads API sees the call.
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "Request had insufficient authentication scopes.",
            )
        if reason:
            raise _Abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "Request is missing required authentication credential.",
                [error("authentication_error", "OAUTH_TOKEN_INVALID", "Oauth token is invalid.")],
            )
        token = metadata.get("developer-token")
        if not token:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Request contains an invalid argument.",
                [
                    error(
                        "request_error",
                        "DEVELOPER_TOKEN_PARAMETER_MISSING",
                        "Developer token parameter is missing.",
                    )
                ],
            )
        if self.developer_token is not None and token != self.developer_token:
            raise _Abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "Request is missing required authentication credential.",
                [
                    error(
                        "authentication_error",
                        "DEVELOPER_TOKEN_INVALID",
                        "The developer token is not valid.",
                    )
                ],
            )
        login = metadata.get("login-customer-id")
        if login is not None and (not login.isdigit() or login not in self._customers):
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Request contains an invalid argument.",
                [
                    error(
                        "header_error",
                        "INVALID_LOGIN_CUSTOMER_ID",
                        "The login customer ID could not be validated.",
                    )
                ],
            )
        if customer_id not in self._customers:
            raise _Abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "Request is missing required authentication credential.",
                [
                    error(
                        "authentication_error",
                        "CUSTOMER_NOT_FOUND",
                        "No customer found for the provided customer id.",
                    )
                ],
            )

    def _charge(self, method: str, request: Any) -> None:
        """Count operations against the daily quota (Basic access 15,000)."""
        if self.daily_operations is None:
            return
        rows = getattr(request, "conversions", None) or getattr(
            request, "conversion_adjustments", None
        )
        cost = len(rows) if rows else 1
        now = self.clock().astimezone(_PACIFIC)
        with self._lock:
            if self._operations[now.date()] + cost > self.daily_operations:
                midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time())
                wait = (midnight.replace(tzinfo=_PACIFIC) - now).total_seconds()
                raise _quota("RESOURCE_EXHAUSTED", wait)
            self._operations[now.date()] += cost

    # -- ConversionUploadService.UploadClickConversions ------------------------------------------
    def _upload_click_conversions(
        self, request: cup.UploadClickConversionsRequest, request_id: str
    ) -> cup.UploadClickConversionsResponse:
        customer = self._customers[request.customer_id]
        if not customer.allowlisted:
            raise _Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                "The caller does not have permission",
                [
                    error(
                        "not_allowlisted_error",
                        "CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",
                        "New integrations for uploading click conversions should use the Data "
                        "Manager API. Usage of ConversionUploadService.UploadClickConversions "
                        "is limited to existing users.",
                    )
                ],
            )
        _check_batch(
            request, "conversions", "conversion_upload_error", "TOO_MANY_CONVERSIONS_IN_REQUEST"
        )
        now = self.clock()
        rows = list(request.conversions)
        with self._lock:
            errors: list[Error] = []
            results: list[cup.ClickConversionResult] = []
            order_counts = Counter(c.order_id for c in rows if c.order_id)
            click_counts = Counter(_click_key(c) for c in rows)
            for index, conversion in enumerate(rows):
                problem = self._check_conversion(customer, index, conversion, now) or (
                    _in_request_duplicate(index, conversion, order_counts, click_counts)
                )
                if problem is not None:
                    errors.append(problem)
                    results.append(cup.ClickConversionResult())
                    continue
                if not request.validate_only:
                    self._store(customer, conversion)
                results.append(
                    cup.ClickConversionResult(
                        gclid=conversion.gclid if "gclid" in conversion else None,
                        gbraid=conversion.gbraid,
                        wbraid=conversion.wbraid,
                        conversion_action=conversion.conversion_action,
                        conversion_date_time=conversion.conversion_date_time,
                        user_identifiers=list(conversion.user_identifiers),
                    )
                )
        response = cup.UploadClickConversionsResponse(
            results=[] if request.validate_only else results,
            job_id=request.job_id if "job_id" in request else 0,
        )
        if errors:
            response.partial_failure_error = _partial_failure(errors, request_id)
        return response

    def _check_conversion(
        self, customer: _Customer, index: int, c: cup.ClickConversion, now: datetime
    ) -> Error | None:
        def at(*parts: str) -> Path:
            return [("conversions", index), *((p, None) for p in parts)]

        window, action_problem = self._action(
            customer, c, at("conversion_action"), "conversion_upload_error", now
        )
        if action_problem:
            return action_problem
        when = parse_date_time(c.conversion_date_time)
        if when is None:
            return error(
                "date_error",
                "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET",
                "The string date time's format should be yyyy-mm-dd hh:mm:ss+|-hh:mm.",
                at("conversion_date_time"),
            )
        if c.currency_code and not _CURRENCY.match(c.currency_code):
            return error(
                "currency_code_error",
                "UNSUPPORTED",
                "The currency code is not supported.",
                at("currency_code"),
            )
        if c.gbraid and c.wbraid:
            return _upload_error(
                "GBRAID_WBRAID_BOTH_SET",
                "Conversions can't have both gbraid and wbraid.",
                at("wbraid"),
            )
        braid = "gbraid" if c.gbraid else ("wbraid" if c.wbraid else None)
        if braid:
            for other, present in (
                ("gclid", "gclid" in c),
                ("user_identifiers", bool(c.user_identifiers)),
                ("custom_variables", bool(c.custom_variables)),
            ):
                if present:
                    return error(
                        "field_error",
                        "VALUE_MUST_BE_UNSET",
                        f"{other} must be unset when {braid} is set.",
                        at(other),
                    )
        identifier_problem = _check_identifiers(index, c)
        if identifier_problem:
            return identifier_problem
        if c.order_id and _PII.search(c.order_id):
            return _upload_error(
                "ORDER_ID_CONTAINS_PII",
                "The order ID contains personally identifiable information.",
                at("order_id"),
            )
        click_problem = self._check_click(customer, c, when, now, window, at)
        if click_problem:
            return click_problem
        scope = (customer.customer_id, _action_id(c.conversion_action))
        if c.order_id and (*scope, c.order_id) in self._by_order:
            return _upload_error(
                "ORDER_ID_ALREADY_IN_USE",
                "The imported event includes an order ID that was previously recorded.",
                at("order_id"),
            )
        if (*scope, *_click_id(c), when) in self._by_click:
            return _upload_error(
                "CLICK_CONVERSION_ALREADY_EXISTS",
                "The imported event has the same click and conversion_date_time as an "
                "existing conversion.",
                at("conversion_date_time"),
            )
        return None

    def _action(
        self, customer: _Customer, row: Any, path: Path, kind: str, now: datetime
    ) -> tuple[int, Error | None]:
        if "conversion_action" not in row or not row.conversion_action:
            return 0, error("field_error", "REQUIRED", "The required field was not present.", path)
        match = _ACTION_NAME.match(row.conversion_action)
        if match is None:
            return 0, error(
                "request_error", "RESOURCE_NAME_MALFORMED", "The resource name is malformed.", path
            )
        # Google ignores the customer ID in the name and looks the action up by its ID.
        action = self._actions.get((customer.customer_id, match.group(2)))
        if action is None:
            return 0, error(
                kind, "NO_CONVERSION_ACTION_FOUND", "The conversion action can't be found.", path
            )
        refusal = catalog.upload_refusal(self.catalog, customer.customer_id, match.group(2))
        if refusal is not None and kind == "conversion_upload_error":
            return 0, error(kind, *refusal, path)
        if action.created_at is not None and now - action.created_at < MIN_CLICK_AGE:
            return 0, error(
                kind,
                "TOO_RECENT_CONVERSION_ACTION",
                "Can't import events to a conversion action that was just created. "
                "Try importing again in 6 hours.",
                path,
            )
        return action.click_window_days, None

    def _check_click(
        self,
        customer: _Customer,
        c: cup.ClickConversion,
        when: datetime,
        now: datetime,
        window_days: int,
        at: Callable[..., Path],
    ) -> Error | None:
        kind, click_id = _click_id(c)
        if not click_id:
            if c.user_identifiers:
                # Enhanced conversions for leads: no ad interaction in the sandbox matches.
                return _upload_error(
                    "CLICK_NOT_FOUND",
                    "The email address or phone number for this event can't be matched to a click.",
                    at("user_identifiers"),
                )
            return error(
                "field_error", "REQUIRED", "The required field was not present.", at("gclid")
            )
        if not _CLICK_ID.match(click_id):
            return _upload_error(
                f"UNPARSEABLE_{kind.upper()}",
                f"The imported {kind} could not be decoded.",
                at(kind),
            )
        click = self._clicks.get(click_id)
        if click is None or click.kind != kind:
            return _upload_error(
                "EVENT_NOT_FOUND",
                "The imported event could not be attributed to a click.",
                at(kind),
            )
        if click.customer_id and click.customer_id != customer.customer_id:
            return _upload_error(
                "INVALID_CUSTOMER_FOR_CLICK",
                "The click from the imported event is associated with a different Google Ads "
                "account.",
                at(kind),
            )
        if now - click.click_time < MIN_CLICK_AGE:
            return _upload_error(
                "TOO_RECENT_EVENT",
                "The click associated with the given identifier occurred less than 6 hours "
                "ago. Retry after 6 hours have passed.",
                at(kind),
            )
        if when < click.click_time:
            return _upload_error(
                "CONVERSION_PRECEDES_EVENT",
                "The imported event has a conversion_date_time that precedes the click.",
                at("conversion_date_time"),
            )
        if when - click.click_time > timedelta(days=window_days) or (
            now - click.click_time > MAX_CLICK_AGE
        ):
            return _upload_error(
                "EXPIRED_EVENT",
                "The imported event can't be recorded because its click occurred before this "
                "conversion's click-through window.",
                at(kind),
            )
        return None

    def _store(self, customer: _Customer, c: cup.ClickConversion) -> None:
        kind, click_id = _click_id(c)
        value = c.conversion_value if "conversion_value" in c else None
        self._keep(
            _Conversion(
                customer_id=customer.customer_id,
                action_id=_action_id(c.conversion_action),
                order_id=c.order_id or None,
                click_kind=kind,
                click_id=click_id,
                conversion_date_time=c.conversion_date_time,
                conversion_time=parse_date_time(c.conversion_date_time) or self.clock(),
                value=value,
                original_value=value,
                currency=c.currency_code or customer.currency,
            )
        )

    def _keep(self, conversion: _Conversion) -> None:
        """Store a conversion and index it (callers hold the lock)."""
        self._conversions.append(conversion)
        scope = (conversion.customer_id, conversion.action_id)
        if conversion.order_id:
            self._by_order[(*scope, conversion.order_id)] = conversion
        if conversion.click_id:
            key = (*scope, conversion.click_kind, conversion.click_id, conversion.conversion_time)
            self._by_click[key] = conversion

    # -- ConversionAdjustmentUploadService.UploadConversionAdjustments ---------------------------
    def _upload_adjustments(
        self, request: adj.UploadConversionAdjustmentsRequest, request_id: str
    ) -> adj.UploadConversionAdjustmentsResponse:
        customer = self._customers[request.customer_id]
        _check_batch(
            request,
            "conversion_adjustments",
            "conversion_adjustment_upload_error",
            "TOO_MANY_ADJUSTMENTS_IN_REQUEST",
        )
        now = self.clock()
        rows = list(request.conversion_adjustments)
        keys = Counter(_adjustment_key(a) for a in rows)
        errors: list[Error] = []
        results: list[adj.ConversionAdjustmentResult] = []
        with self._lock:
            for index, adjustment in enumerate(rows):
                outcome = self._check_adjustment(customer, index, adjustment, now)
                if isinstance(outcome, Error) or keys[_adjustment_key(adjustment)] > 1:
                    errors.append(
                        outcome
                        if isinstance(outcome, Error)
                        else _adjust_error(
                            "DUPLICATE_ADJUSTMENT_IN_REQUEST",
                            "Duplicate adjustments in the request.",
                            [("conversion_adjustments", index)],
                        )
                    )
                    results.append(adj.ConversionAdjustmentResult())
                    continue
                if not request.validate_only:
                    _apply(outcome, adjustment)
                results.append(
                    adj.ConversionAdjustmentResult(
                        order_id=adjustment.order_id or None,
                        gclid_date_time_pair=adjustment.gclid_date_time_pair,
                        conversion_action=adjustment.conversion_action,
                        adjustment_date_time=adjustment.adjustment_date_time,
                        adjustment_type=adjustment.adjustment_type,
                    )
                )
        response = adj.UploadConversionAdjustmentsResponse(
            results=[] if request.validate_only else results,
            job_id=request.job_id if "job_id" in request else 0,
        )
        if errors:
            response.partial_failure_error = _partial_failure(errors, request_id)
        return response

    def _check_adjustment(
        self, customer: _Customer, index: int, a: adj.ConversionAdjustment, now: datetime
    ) -> Error | _Conversion:
        def at(*parts: str) -> Path:
            return [("conversion_adjustments", index), *((p, None) for p in parts)]

        kind = "conversion_adjustment_upload_error"
        types = ConversionAdjustmentTypeEnum.ConversionAdjustmentType
        _, action_problem = self._action(customer, a, at("conversion_action"), kind, now)
        if action_problem:
            return action_problem
        when = parse_date_time(a.adjustment_date_time)
        if when is None:
            return error(
                "date_error",
                "INVALID_STRING_DATE_TIME_SECONDS_WITH_OFFSET",
                "The string date time's format should be yyyy-mm-dd hh:mm:ss+|-hh:mm.",
                at("adjustment_date_time"),
            )
        if a.adjustment_type == types.ENHANCEMENT:
            return _adjust_error(
                "CONVERSION_ACTION_NOT_ELIGIBLE_FOR_ENHANCEMENT",
                "Enhancements are not served by the sandbox.",
                at("adjustment_type"),
            )
        if a.adjustment_type not in (types.RESTATEMENT, types.RETRACTION):
            return error(
                "field_error",
                "REQUIRED",
                "The required field was not present.",
                at("adjustment_type"),
            )
        has_pair = bool(a.gclid_date_time_pair.gclid)
        if has_pair and a.order_id:
            return _adjust_error(
                "GCLID_DATE_TIME_PAIR_AND_ORDER_ID_BOTH_SET",
                "Only one of gclid_date_time_pair and order_id may be set.",
                at("order_id"),
            )
        if not has_pair and not a.order_id:
            return error(
                "field_error", "REQUIRED", "The required field was not present.", at("order_id")
            )
        if a.order_id and _PII.search(a.order_id):
            return _adjust_error(
                "ORDER_ID_CONTAINS_PII",
                "The order ID contains personally identifiable information.",
                at("order_id"),
            )
        restating = a.adjustment_type == types.RESTATEMENT
        has_value = "adjusted_value" in a.restatement_value
        if restating and not has_value:
            return error(
                "field_error",
                "REQUIRED",
                "The required field was not present.",
                at("restatement_value", "adjusted_value"),
            )
        if not restating and (has_value or "currency_code" in a.restatement_value):
            return error(
                "field_error",
                "VALUE_MUST_BE_UNSET",
                "Retractions must not carry a restatement value.",
                at("restatement_value"),
            )
        target = self._find(customer, a)
        if target is None:
            return _adjust_error(
                "CONVERSION_NOT_FOUND", "The conversion could not be found.", at("order_id")
            )
        if when < target.conversion_time:
            return _adjust_error(
                "ADJUSTMENT_PRECEDES_CONVERSION",
                "The adjustment precedes the conversion.",
                at("adjustment_date_time"),
            )
        if now - target.conversion_time > ADJUSTMENT_WINDOW:
            return _adjust_error(
                "CONVERSION_EXPIRED",
                "Adjustments must be made within 54 days of the conversion.",
                at("order_id"),
            )
        if target.retracted:
            return _adjust_error(
                "CONVERSION_ALREADY_RETRACTED",
                "The conversion was already retracted.",
                at("order_id"),
            )
        if restating and target.last_restatement is not None:
            if when == target.last_restatement:
                return _adjust_error(
                    "RESTATEMENT_ALREADY_EXISTS",
                    "A restatement with this timestamp already exists.",
                    at("adjustment_date_time"),
                )
            if when < target.last_restatement:
                return _adjust_error(
                    "MORE_RECENT_RESTATEMENT_FOUND",
                    "A more recent restatement was already uploaded.",
                    at("adjustment_date_time"),
                )
        return target

    def _find(self, customer: _Customer, a: adj.ConversionAdjustment) -> _Conversion | None:
        action_id = _action_id(a.conversion_action)
        scope = (customer.customer_id, action_id)
        if a.order_id:
            return self._by_order.get((*scope, a.order_id))
        pair = a.gclid_date_time_pair
        when = parse_date_time(pair.conversion_date_time)
        if when is None:
            return None
        return next(
            (
                self._by_click[key]
                for kind in ("gclid", "gbraid", "wbraid")
                if (key := (*scope, kind, pair.gclid, when)) in self._by_click
            ),
            None,
        )

    # -- GoogleAdsService.SearchStream ----------------------------------------------------------
    def _search_stream(
        self, request: gas.SearchGoogleAdsStreamRequest, context: grpc.ServicerContext
    ) -> Iterator[gas.SearchGoogleAdsStreamResponse]:
        request_id = uuid.uuid4().hex[:22]
        try:
            fault = self._begin("SearchStream", request, context)
            query = parse_gaql(request.query)
            rows = self._rows(self._customers[request.customer_id], query)
        except _Abort as abort:
            _abort(context, abort, request_id)
        if fault is Fault.LOST_RESPONSE:
            context.abort(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer")
        context.set_trailing_metadata((("request-id", request_id),))
        for start in range(0, max(len(rows), 1), STREAM_BATCH):
            response = gas.SearchGoogleAdsStreamResponse(
                results=rows[start : start + STREAM_BATCH], request_id=request_id
            )
            response.field_mask.paths.extend(query.select)
            yield response

    def _rows(self, customer: _Customer, query: Query) -> list[gas.GoogleAdsRow]:
        """Settings rows (conversion actions, customer) or spend rows for ``query``."""
        if query.resource == click_view.RESOURCE:
            found = self._click_view_values(customer, query)
        elif query.resource == "conversion_action":
            found = catalog.action_values(self.catalog, customer, self._actions)
        elif catalog.is_settings_query(query.resource, query.select):
            found = [catalog.customer_values(self.catalog, customer)]
        else:
            return self._spend_rows(customer, query)
        matched = _order([v for v in found if query.matches(v)], query)
        return [_row(v, query.select) for v in matched]

    def _click_view_values(self, customer: _Customer, query: Query) -> list[dict[str, Any]]:
        """One value dict per gclid of ``customer`` with a known source (single day only)."""
        refused = click_view.refusal(query.conditions, self.clock())
        if refused is not None:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Request contains an invalid argument.",
                [error("click_view_error", *refused)],
            )
        with self._lock:
            clicks = list(self._clicks.values())
        return [
            click_view.values(customer, c.click_id, c.click_time, c.source)
            for c in clicks
            if c.kind == "gclid"
            and c.source is not None
            and c.customer_id in (None, customer.customer_id)
        ]

    def _spend_rows(self, customer: _Customer, query: Query) -> list[gas.GoogleAdsRow]:
        level = _LEVELS[query.resource]
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        for spend in self._spend:
            if spend.customer_id != customer.customer_id:
                continue
            if (level >= 2 and spend.ad_group_id is None) or (
                level >= 3 and spend.keyword_id is None
            ):
                continue
            values = _spend_values(customer, spend, level)
            key = tuple(values.get(f) for f in _GROUP_FIELDS[: level + 1])
            group = groups.setdefault(key, values | dict.fromkeys(_METRICS, 0))
            group["metrics.cost_micros"] += spend.cost_micros
            group["metrics.clicks"] += spend.clicks
            group["metrics.impressions"] += spend.impressions
        matched = _order([g for g in groups.values() if query.matches(g)], query)
        return [_row(g, query.select) for g in matched]


def _order(matched: list[dict[str, Any]], query: Query) -> list[dict[str, Any]]:
    """ORDER BY and LIMIT applied to matching value dicts."""
    for field_name, descending in reversed(query.order_by):
        matched.sort(key=lambda g, f=field_name: (g[f] is None, g[f]), reverse=descending)
    return matched[: query.limit] if query.limit is not None else matched


# -- GAQL: just enough of the grammar for spend queries -------------------------------------------
_RESOURCES = {
    "customer": {"customer", "metrics", "segments"},
    "campaign": {"campaign", "customer", "metrics", "segments"},
    "ad_group": {"ad_group", "campaign", "customer", "metrics", "segments"},
    "keyword_view": {
        "keyword_view",
        "ad_group_criterion",
        "ad_group",
        "campaign",
        "customer",
        "metrics",
        "segments",
    },
    **catalog.RESOURCES,
    click_view.RESOURCE: click_view.SELECTABLE,
}
_LEVELS = {"customer": 0, "campaign": 1, "ad_group": 2, "keyword_view": 3}
_GROUP_FIELDS = ("segments.date", "campaign.id", "ad_group.id", "ad_group_criterion.criterion_id")
_METRICS = ("metrics.cost_micros", "metrics.clicks", "metrics.impressions")
_SERVED = {
    "customer.id",
    "customer.resource_name",
    "customer.currency_code",
    "customer.descriptive_name",
    "campaign.id",
    "campaign.name",
    "campaign.resource_name",
    "ad_group.id",
    "ad_group.name",
    "ad_group.resource_name",
    "ad_group_criterion.criterion_id",
    "ad_group_criterion.keyword.text",
    "ad_group_criterion.resource_name",
    "keyword_view.resource_name",
    "segments.date",
    *_METRICS,
    *catalog.ACTION_FIELDS,
    *catalog.CUSTOMER_FIELDS,
    *click_view.FIELDS,
}
_QUERY = re.compile(
    r"^\s*SELECT\s+(?P<select>.+?)\s+FROM\s+(?P<resource>\w+)"
    r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>.+?))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_VALUE = r"'[^']*'|\"[^\"]*\"|-?\d+(?:\.\d+)?"
_CONDITION = re.compile(
    rf"\s*(?P<field>[a-z_.]+)\s+(?:BETWEEN\s+(?P<low>{_VALUE})\s+AND\s+(?P<high>{_VALUE})"
    rf"|(?P<op>=|!=|>=|<=|>|<)\s*(?P<value>{_VALUE}))\s*",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class Query:
    """A parsed GAQL query: selected fields, resource, conditions, order and limit."""

    select: list[str]
    resource: str
    conditions: list[tuple[str, str, Any]]
    order_by: list[tuple[str, bool]]
    limit: int | None

    def matches(self, values: dict[str, Any]) -> bool:
        """Whether a row's values satisfy every WHERE condition."""
        for field_name, op, operand in self.conditions:
            value = values.get(field_name)
            if op == "BETWEEN":
                if value is None or not operand[0] <= value <= operand[1]:
                    return False
            elif not _compare(value, op, operand):
                return False
        return True


def _compare(value: Any, op: str, operand: Any) -> bool:
    if op == "=":
        return bool(value == operand)
    if op == "!=":
        return bool(value != operand)
    if value is None:
        return False
    return {
        ">": value > operand,
        "<": value < operand,
        ">=": value >= operand,
        "<=": value <= operand,
    }[op]


def _query_error(name: str, message: str) -> _Abort:
    return _Abort(
        grpc.StatusCode.INVALID_ARGUMENT,
        "Request contains an invalid argument.",
        [error("query_error", name, message)],
    )


def parse_gaql(text: str) -> Query:
    """Parse ``text``; raise the QueryError Google would answer for what we do not accept."""
    match = _QUERY.match(text)
    if match is None:
        first = text.strip().split(None, 1)[0].upper() if text.strip() else ""
        name = "EXPECTED_SELECT" if first != "SELECT" else "EXPECTED_FROM"
        raise _query_error(name, f"Error in query: {text.strip()[:80]!r}.")
    resource = match["resource"].lower()
    if resource not in _RESOURCES:
        raise _query_error(
            "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE",
            f"Error in FROM clause: invalid resource name: '{resource}'.",
        )
    select = [f.strip() for f in match["select"].split(",")]
    for field_name in select:
        _check_field(field_name, resource)
    conditions = _parse_where(match["where"] or "", resource)
    if "segments.date" in select and not any(c[0] == "segments.date" for c in conditions):
        raise _query_error(
            "EXPECTED_FILTERS_ON_DATE_RANGE",
            "segments.date in SELECT needs a finite date range in WHERE.",
        )
    order_by = []
    for part in filter(None, (p.strip() for p in (match["order"] or "").split(","))):
        field_name, _, direction = part.partition(" ")
        _check_field(field_name, resource)
        order_by.append((field_name, direction.strip().upper() == "DESC"))
    return Query(
        select, resource, conditions, order_by, int(match["limit"]) if match["limit"] else None
    )


def _check_field(field_name: str, resource: str) -> None:
    descriptor = gas.GoogleAdsRow.pb().DESCRIPTOR
    for part in field_name.split("."):
        fields = descriptor.fields_by_name if descriptor is not None else {}
        # proto-plus names fields that clash with Python words with a trailing "_" (type_).
        found = fields.get(part) or fields.get(f"{part}_")
        if found is None:
            raise _query_error(
                "UNRECOGNIZED_FIELD", f"Error in query: unrecognized field '{field_name}'."
            )
        descriptor = found.message_type
    if field_name.split(".")[0] not in _RESOURCES[resource]:
        raise _query_error(
            "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE",
            f"'{field_name}' cannot be selected with the resource in the FROM clause: "
            f"'{resource}'.",
        )
    if field_name not in _SERVED:
        raise _query_error(
            "UNRECOGNIZED_FIELD",
            f"Error in query: field '{field_name}' is not served by the sandbox.",
        )


def _parse_where(text: str, resource: str) -> list[tuple[str, str, Any]]:
    conditions: list[tuple[str, str, Any]] = []
    position = 0
    while position < len(text):
        match = _CONDITION.match(text, position)
        if match is None:
            raise _query_error(
                "UNEXPECTED_INPUT", f"Error in WHERE clause: unexpected input {text[position:]!r}."
            )
        field_name = match["field"]
        _check_field(field_name, resource)
        if match["low"] is not None:
            operand: Any = (_literal(field_name, match["low"]), _literal(field_name, match["high"]))
            conditions.append((field_name, "BETWEEN", operand))
        else:
            conditions.append((field_name, match["op"], _literal(field_name, match["value"])))
        position = match.end()
        rest = re.match(r"AND\s+", text[position:], re.IGNORECASE)
        if rest is None and position < len(text):
            raise _query_error("EXPECTED_AND", "Error in WHERE clause: expected AND.")
        if rest is not None:
            position += rest.end()
    return conditions


def _literal(field_name: str, token: str) -> Any:
    if token[0] in "'\"":
        value = token[1:-1]
        if field_name == "segments.date":
            if not _ISO_DATE.match(value):
                raise _query_error(
                    "INVALID_DATE_FORMAT", f"Invalid date '{value}': expected YYYY-MM-DD."
                )
            try:
                date.fromisoformat(value)
            except ValueError as exc:
                raise _query_error("INVALID_DATE_FORMAT", f"Invalid date '{value}'.") from exc
        return value
    if field_name.endswith((".id", ".criterion_id")) or field_name.startswith("metrics."):
        return int(Decimal(token))
    raise _query_error("BAD_VALUE", f"Error in WHERE clause: bad value {token}.")


def _spend_values(customer: _Customer, spend: _Spend, level: int) -> dict[str, Any]:
    cid = customer.customer_id
    values: dict[str, Any] = {
        "customer.id": int(cid),
        "customer.resource_name": f"customers/{cid}",
        "customer.currency_code": customer.currency,
        "customer.descriptive_name": customer.name,
        "segments.date": spend.day.isoformat(),
    }
    if level >= 1:
        values |= {
            "campaign.id": int(spend.campaign_id),
            "campaign.name": spend.campaign,
            "campaign.resource_name": f"customers/{cid}/campaigns/{spend.campaign_id}",
            "campaign.advertising_channel_type": spend.channel_type,
        }
    if level >= 2:
        values |= {
            "ad_group.id": int(spend.ad_group_id or 0),
            "ad_group.name": spend.ad_group,
            "ad_group.resource_name": f"customers/{cid}/adGroups/{spend.ad_group_id}",
        }
    if level >= 3:
        pair = f"{spend.ad_group_id}~{spend.keyword_id}"
        values |= {
            "ad_group_criterion.criterion_id": int(spend.keyword_id or 0),
            "ad_group_criterion.keyword.text": spend.keyword,
            "ad_group_criterion.resource_name": f"customers/{cid}/adGroupCriteria/{pair}",
            "keyword_view.resource_name": f"customers/{cid}/keywordViews/{pair}",
        }
    return values


def _row(values: dict[str, Any], select: list[str]) -> gas.GoogleAdsRow:
    row = gas.GoogleAdsRow()
    for path in select:
        *parents, leaf = path.split(".")
        target: Any = row
        for part in parents:
            target = getattr(target, part)
        if values.get(path) is not None:
            name = leaf if leaf in type(target).meta.fields else f"{leaf}_"
            value = click_view.wire_value(path, catalog.wire_value(path, values[path]))
            setattr(target, name, value)
    return row


# -- helpers shared by the upload services ---------------------------------------------------------
def _upload_error(name: str, message: str, path: Path) -> Error:
    return error("conversion_upload_error", name, message, path)


def _adjust_error(name: str, message: str, path: Path) -> Error:
    return error("conversion_adjustment_upload_error", name, message, path)


def _check_batch(request: Any, rows_field: str, kind: str, too_many: str) -> None:
    if not request.partial_failure:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Request contains an invalid argument.",
            [
                error(
                    "partial_failure_error",
                    "PARTIAL_FAILURE_MODE_REQUIRED",
                    "The partial failure field was false in the request.",
                    [("partial_failure", None)],
                )
            ],
        )
    if len(getattr(request, rows_field)) > MAX_ROWS_PER_REQUEST:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Request contains an invalid argument.",
            [
                error(
                    kind,
                    too_many,
                    f"Upload fewer than {MAX_ROWS_PER_REQUEST + 1} rows in a single request.",
                    [(rows_field, None)],
                )
            ],
        )
    if "job_id" in request and not 0 <= request.job_id < 2**31:
        raise _Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            "Request contains an invalid argument.",
            [error(kind, "INVALID_JOB_ID", "The job ID must be in [0, 2^31).", [("job_id", None)])],
        )


def _check_identifiers(index: int, c: cup.ClickConversion) -> Error | None:
    identifiers = list(c.user_identifiers)
    if len(identifiers) > MAX_USER_IDENTIFIERS:
        # The documented maximum is 5 per conversion; Google's exact code for more is not
        # published, so the stricter collection-size error is used (unverified).
        return error(
            "collection_size_error",
            "TOO_MANY",
            "Too many user identifiers (at most 5).",
            [("conversions", index), ("user_identifiers", None)],
        )
    for position, identifier in enumerate(identifiers):
        path: Path = [("conversions", index), ("user_identifiers", position)]
        kind = identifier._pb.WhichOneof("identifier")
        if kind not in ("hashed_email", "hashed_phone_number"):
            return _upload_error(
                "UNSUPPORTED_USER_IDENTIFIER",
                "Only hashed_email and hashed_phone_number are supported.",
                path,
            )
        if not _SHA256_HEX.match(getattr(identifier, kind)):
            return _upload_error(
                "INVALID_USER_IDENTIFIER",
                "The user identifier is not a valid SHA-256 hash.",
                [*path, (kind, None)],
            )
    return None


def _click_id(c: cup.ClickConversion) -> tuple[str, str]:
    if c.gbraid:
        return "gbraid", c.gbraid
    if c.wbraid:
        return "wbraid", c.wbraid
    return "gclid", c.gclid if "gclid" in c else ""


def _click_key(c: cup.ClickConversion) -> tuple[str, str, str, str]:
    return (_action_id(c.conversion_action), *_click_id(c), c.conversion_date_time)


def _action_id(resource_name: str) -> str:
    match = _ACTION_NAME.match(resource_name)
    return match.group(2) if match else ""


def _in_request_duplicate(
    index: int,
    c: cup.ClickConversion,
    order_counts: Counter[str],
    click_counts: Counter[tuple[str, str, str, str]],
) -> Error | None:
    if c.order_id and order_counts[c.order_id] > 1:
        return _upload_error(
            "DUPLICATE_ORDER_ID",
            "Imported events include multiple conversions with the same order ID.",
            [("conversions", index), ("order_id", None)],
        )
    if click_counts[_click_key(c)] > 1 and _click_id(c)[1]:
        return _upload_error(
            "DUPLICATE_CLICK_CONVERSION_IN_REQUEST",
            "Multiple events have the same click and conversion_date_time.",
            [("conversions", index), ("conversion_date_time", None)],
        )
    return None


def _adjustment_key(a: adj.ConversionAdjustment) -> tuple[Any, ...]:
    pair = a.gclid_date_time_pair
    return (
        a.conversion_action,
        a.order_id,
        pair.gclid,
        pair.conversion_date_time,
        int(a.adjustment_type),
        a.adjustment_date_time,
    )


def _apply(target: _Conversion, a: adj.ConversionAdjustment) -> None:
    types = ConversionAdjustmentTypeEnum.ConversionAdjustmentType
    when = parse_date_time(a.adjustment_date_time)
    record: dict[str, Any] = {
        "type": types(a.adjustment_type).name,
        "adjustment_date_time": a.adjustment_date_time,
    }
    if a.adjustment_type == types.RETRACTION:
        target.retracted = True
    else:
        target.value = a.restatement_value.adjusted_value
        if "currency_code" in a.restatement_value:
            target.currency = a.restatement_value.currency_code
        target.restated = True
        target.last_restatement = when
        record["value"] = target.value
    target.adjustments.append(record)


def _partial_failure(errors: list[Error], request_id: str) -> status_pb2.Status:
    failure = ads_errors.GoogleAdsFailure(errors=errors, request_id=request_id)
    first = errors[0]
    where = ".".join(
        f"{e.field_name}[{e.index}]" if "index" in e else e.field_name
        for e in first.location.field_path_elements
    )
    return status_pb2.Status(
        code=grpc.StatusCode.INVALID_ARGUMENT.value[0],
        message=f"{first.message}, at {where}",
        details=[
            any_pb2.Any(
                type_url=FAILURE_TYPE_URL, value=ads_errors.GoogleAdsFailure.serialize(failure)
            )
        ],
    )


def _quota(name: str, retry_seconds: float) -> _Abort:
    delay = timedelta(seconds=retry_seconds if retry_seconds > 0 else 1)
    scope = ads_errors.QuotaErrorDetails.QuotaRateScope
    daily = name == "RESOURCE_EXHAUSTED"
    quota = error(
        "quota_error",
        name,
        f"Too many requests. Retry in {delay.total_seconds():g} seconds.",
    )
    quota.details = ads_errors.ErrorDetails(
        quota_error_details=ads_errors.QuotaErrorDetails(
            rate_scope=scope.DEVELOPER if daily else scope.ACCOUNT,
            rate_name="Number of operations for basic access" if daily else "Requests per account",
            retry_delay=delay,
        )
    )
    return _Abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "Resource has been exhausted.", [quota])


def _abort(context: grpc.ServicerContext, abort: _Abort, request_id: str) -> NoReturn:
    failure = ads_errors.GoogleAdsFailure(errors=abort.errors, request_id=request_id)
    blob = ads_errors.GoogleAdsFailure.serialize(failure)
    status = status_pb2.Status(
        code=abort.code.value[0],
        message=abort.message,
        details=[any_pb2.Any(type_url=FAILURE_TYPE_URL, value=blob)],
    )
    context.set_trailing_metadata(
        (
            (FAILURE_KEY, blob),
            ("grpc-status-details-bin", status.SerializeToString()),
            ("request-id", request_id),
        )
    )
    context.abort(abort.code, abort.message)
