"""A local Microsoft Advertising: Campaign Management (offline conversions) and Reporting.

The msads SDK's generated client talks to it unmodified (only its host points here), with
the Microsoft identity platform's refresh-token grant served at ``TOKEN_PATH``. It enforces
the documented rules of ``ApplyOfflineConversions`` and ``ApplyOfflineConversionAdjustments``
(see shared/platform-limits.md) and answers in the REST API's JSON shapes:

* every request needs a live bearer token and the account's ``DeveloperToken``,
  ``CustomerId`` and ``CustomerAccountId`` headers (else an ``AdApiFaultDetail``, HTTP 401);
* at most 1,000 items per request (else an ``ApiFaultDetail`` operation error, HTTP 400);
* item problems come back as ``PartialErrors`` with the item's ``Index`` while the other
  items are applied: unknown goal name, unknown msclkid, click older than 90 days,
  conversion before its click, future times, bad currency, unhashed email/phone, and
  adjustments of a conversion it never received;
* a repeat of the same click (or hash), goal and conversion time is ignored, as Microsoft
  documents; faults from the ``FaultPlan`` answer 429 (``CallRateExceeded``, 117) or 500
  (``InternalError``, 0).

The Reporting service (spend by campaign/ad group/keyword as zipped CSV reports) is in
``reporting.py``; seed it with :meth:`MicrosoftAdsSandbox.add_delivery`.

Numeric codes and names of the item errors marked (unverified) follow the API's error shape
but could not be checked against a live response.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from werkzeug.wrappers import Request, Response

from platforms.sandbox_kit import Fault, FaultPlan, HttpEmulator, TokenIssuer

TOKEN_PATH = "/common/oauth2/v2.0/token"
CONVERSIONS_PATH = "/CampaignManagement/v13/OfflineConversions/Apply"
ADJUSTMENTS_PATH = "/CampaignManagement/v13/OfflineConversionAdjustments/Apply"
SCOPE = "https://ads.microsoft.com/msads.manage"
MAX_ITEMS = 1000
CLICK_WINDOW = timedelta(days=90)
FUTURE_TOLERANCE = timedelta(minutes=5)
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")

# Operation error codes (AdApiError / OperationError).
INTERNAL_ERROR = (0, "InternalError")
INVALID_CREDENTIALS = (105, "InvalidCredentials")
NOT_AUTHORIZED = (106, "UserIsNotAuthorized")
TOKEN_EXPIRED = (109, "AuthenticationTokenExpired")
CALL_RATE_EXCEEDED = (117, "CallRateExceeded")
INVALID_DEVELOPER_TOKEN = (105, "InvalidCredentials")  # (unverified) same as a bad token
TOO_MANY = (4800, "OfflineConversionsArrayExceedsLimit")  # (unverified)
EMPTY = (4801, "OfflineConversionsNullOrEmpty")  # (unverified)
# Item error codes (BatchError), all (unverified).
NAME_INVALID = (4802, "OfflineConversionNameInvalid")
CLICK_ID_INVALID = (4803, "OfflineConversionMicrosoftClickIdInvalid")
TIME_INVALID = (4804, "OfflineConversionTimeInvalid")
CLICK_TOO_OLD = (4805, "OfflineConversionClickIdOutsideConversionWindow")
BEFORE_CLICK = (4806, "OfflineConversionTimeEarlierThanClickTime")
CURRENCY_INVALID = (4807, "OfflineConversionCurrencyCodeInvalid")
VALUE_INVALID = (4808, "OfflineConversionValueInvalid")
IDENTIFIER_MISSING = (4809, "OfflineConversionIdentifierRequired")
HASH_INVALID = (4810, "OfflineConversionHashedValueInvalid")
ADJUSTMENT_TYPE_INVALID = (4811, "OfflineConversionAdjustmentTypeInvalid")
ADJUSTMENT_TIME_INVALID = (4812, "OfflineConversionAdjustmentTimeInvalid")
ADJUSTMENT_VALUE_INVALID = (4813, "OfflineConversionAdjustmentValueInvalid")
CONVERSION_NOT_FOUND = (4814, "OfflineConversionNotFound")


class _Fault(Exception):
    """An error answer for the whole request."""

    def __init__(self, status: int, kind: str, errors: list[tuple[int, str, str]]) -> None:
        super().__init__(errors[0][2] if errors else kind)
        self.status, self.kind, self.errors = status, kind, errors

    def response(self, headers: dict[str, str] | None = None) -> Response:
        key = "Errors" if self.kind == "AdApiFaultDetail" else "OperationErrors"
        body = {
            "Type": self.kind,
            "TrackingId": _tracking_id(),
            key: [{"Code": c, "ErrorCode": n, "Message": m} for c, n, m in self.errors],
        }
        if self.kind == "ApiFaultDetail":
            body["BatchErrors"] = []
        return _json(body, self.status, headers)


class MicrosoftAdsSandbox(HttpEmulator):
    """One Microsoft Advertising account with its offline conversion goals."""

    name = "microsoft_ads"
    #: The rules the contract kit judges the adapter by (``DestinationSandbox``): a person who
    #: denied ad_user_data consent must not reach Microsoft (its API has no consent field);
    #: PartialErrors fail single items, never the request.
    denied_consent: Literal["withheld", "flagged"] = "withheld"
    transient_scope: Literal["item", "request"] = "item"

    @property
    def max_conversion_age(self) -> timedelta | None:
        """Microsoft's 90-day click window (the conversion, after its click, within it)."""
        return CLICK_WINDOW

    @property
    def retry_hint_seconds(self) -> float:
        """Microsoft's per-item internal error gives no wait; clients back off a minute."""
        return 60.0

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        developer_token: str = "sandbox-developer-token",
        customer_id: str = "1000001",
        account_id: str = "2000002",
        goals: Iterable[str] = ("closedloop_deal_won",),
        client_id: str = "00000000-0000-0000-0000-0000000c105e",
        client_secret: str = "sandbox-client-secret",
        refresh_token: str = "M.sandbox-refresh-token",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(faults)
        self.developer_token, self.customer_id, self.account_id = (
            developer_token,
            customer_id,
            account_id,
        )
        self.goals = set(goals)
        self.client_id, self.client_secret, self.refresh_token = (
            client_id,
            client_secret,
            refresh_token,
        )
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        from platforms.microsoft_ads.sandbox.reporting import Reporting

        self.reporting = Reporting(_Fault, lambda: _utc(self.clock()))
        self.reporting.account_id = account_id
        self.tokens = TokenIssuer()
        self.tokens.add_refresh_token(
            refresh_token, client_id, client_secret, {SCOPE, "offline_access"}
        )
        self._lock = threading.Lock()
        self.reset()

    # -- the DestinationSandbox interface ------------------------------------------------------
    def reset(self) -> None:
        """Forget conversions, clicks, failure scripts and counts (goals and tokens stay)."""
        self.token_requests = 0
        self.requests = 0
        self._accepted: list[dict[str, Any]] = []
        self._rejected: list[dict[str, Any]] = []
        self._clicks: dict[str, datetime] = {}
        self._conversions: dict[str, dict[str, Any]] = {}
        self._adjustments: set[tuple[str, str, str]] = set()
        self._fail: dict[str, bool] = {}
        self.bodies: list[dict[str, Any]] = []
        self.headers_seen: list[dict[str, str]] = []
        if hasattr(self, "reporting"):
            self.reporting.reset()

    @property
    def requests(self) -> int:  # type: ignore[override]
        """API requests received (token refreshes not counted)."""
        return self._all_requests - self.token_requests

    @requests.setter
    def requests(self, value: int) -> None:
        # The base class counts every request with ``requests += 1``.
        self._all_requests = value + getattr(self, "token_requests", 0)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Applied items, oldest first, once per Microsoft identity."""
        return list(self._accepted)

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """Items answered with a partial error, with ``key``, ``code`` and ``message``."""
        return list(self._rejected)

    def know_click(self, kind: str, value: str, time: datetime) -> None:
        """An msclkid Microsoft issued at ``time`` (other kinds are not Microsoft's)."""
        if kind == "msclkid":
            self._clicks[value] = _utc(time)

    def add_delivery(
        self,
        day: date,
        campaign_id: str,
        campaign: str,
        cost: str,
        clicks: int,
        impressions: int,
        *,
        campaign_type: str = "SearchAndContent",
        ad_group_id: str = "",
        ad_group: str = "",
        keyword_id: str = "",
        keyword: str = "",
    ) -> None:
        """One day of a keyword (or of a keyword-less campaign) for the Reporting service.

        ``campaign_type`` is the API's name (``SearchAndContent``, ``Audience``, ``Shopping``,
        ``PerformanceMax``, ``DynamicSearch``); the report file spells it for people.
        """
        from platforms.microsoft_ads.sandbox.reporting import Delivery

        self.reporting.delivery.append(
            Delivery(
                day,
                str(campaign_id),
                campaign,
                campaign_type,
                str(ad_group_id),
                ad_group,
                str(keyword_id),
                keyword,
                Decimal(cost),
                clicks,
                impressions,
            )
        )

    def fail_item(self, key: str, *, permanent: bool) -> None:
        """Answer the item keyed ``key`` (or carrying that msclkid) with a partial error.

        ``permanent``: a validation error; otherwise ``InternalError`` (code 0) once.
        """
        self._fail[key] = permanent

    def platform_config(self) -> dict[str, Any]:
        """The ``platforms.microsoft_ads`` section pointing at this sandbox."""
        return {
            "enabled": True,
            "developer_token": self.developer_token,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "customer_id": self.customer_id,
            "account_id": self.account_id,
            "conversion_name": sorted(self.goals)[0],
            "token_url": f"{self.url}{TOKEN_PATH}",
            "api_url": self.url,
            "reporting_url": self.url,
        }

    def __enter__(self) -> MicrosoftAdsSandbox:
        return self.start()  # type: ignore[return-value]

    def start(self) -> MicrosoftAdsSandbox:
        """Listen (idempotent)."""
        if self._server is None:
            super().start()
        return self

    # -- HTTP ----------------------------------------------------------------------------------
    def fault_response(self, fault: Fault) -> Response:
        """Rate limits as ``CallRateExceeded`` (429), server trouble as ``InternalError``."""
        if fault is Fault.RATE_LIMIT:
            code, name = CALL_RATE_EXCEEDED
            return _Fault(
                429, "AdApiFaultDetail", [(code, name, "The call rate limit was exceeded.")]
            ).response({"Retry-After": str(int(self.faults.retry_after_seconds))})
        code, name = INTERNAL_ERROR
        status = 503 if fault is Fault.UNAVAILABLE else 500
        return _Fault(
            status, "AdApiFaultDetail", [(code, name, "An internal error has occurred.")]
        ).response()

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The token endpoint and the two offline conversion operations."""
        request = Request(environ)
        if request.path == TOKEN_PATH:
            with self._lock:
                self.token_requests += 1
            return self.tokens.handle(request)(environ, start_response)
        try:
            if self.reporting.handles(request.path):
                response = self._report_route(request)
            else:
                response = self._route(request)
        except _Fault as fault:
            response = fault.response()
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.method != "POST" or request.path not in (CONVERSIONS_PATH, ADJUSTMENTS_PATH):
            return _json({"Message": f"No route for {request.method} {request.path}"}, 404)
        self._check_headers(request)
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            raise _Fault(
                400, "ApiFaultDetail", [(*EMPTY, "The request body is not JSON.")]
            ) from None
        field = (
            "OfflineConversions"
            if request.path == CONVERSIONS_PATH
            else "OfflineConversionAdjustments"
        )
        items = body.get(field) if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise _Fault(400, "ApiFaultDetail", [(*EMPTY, f"{field} must not be null or empty.")])
        if len(items) > MAX_ITEMS:
            raise _Fault(
                400,
                "ApiFaultDetail",
                [(*TOO_MANY, f"{field} can hold at most {MAX_ITEMS} items, got {len(items)}.")],
            )
        with self._lock:
            self.bodies.append(body)
            apply = self._conversion if request.path == CONVERSIONS_PATH else self._adjustment
            errors = []
            now = _utc(self.clock())
            for index, item in enumerate(items):
                problem = (
                    apply(item, now)
                    if isinstance(item, dict)
                    else (*IDENTIFIER_MISSING, "not an object")
                )
                if problem is not None:
                    code, name, message = problem
                    key = _key(item) if isinstance(item, dict) else ""
                    errors.append(
                        {
                            "Type": "BatchError",
                            "Code": code,
                            "ErrorCode": name,
                            "Message": message,
                            "Index": index,
                            "FieldPath": None,
                            "Details": None,
                        }
                    )
                    self._rejected.append(
                        {"key": key, "code": name, "message": message, "index": index}
                    )
        return _json({"PartialErrors": errors or None}, headers={"TrackingId": _tracking_id()})

    def _report_route(self, request: Request) -> Response:
        """Submit and Poll (authenticated as every API call); the download by its signature."""
        if request.method == "GET" and request.path.startswith("/ReportDownload/"):
            body = self.reporting.download(request.path, request.args.get("sig"))
            if body is None:
                return Response(
                    '<?xml version="1.0" encoding="utf-8"?><Error><Code>'
                    "AuthenticationFailed</Code><Message>Server failed to authenticate the "
                    "request.</Message></Error>",
                    status=403,
                    mimetype="application/xml",
                )
            return Response(body, mimetype="application/zip")
        if request.method != "POST":
            return _json({"Message": f"No route for {request.method} {request.path}"}, 404)
        self._check_headers(request)
        try:
            body = json.loads(request.get_data(as_text=True) or "null")
        except ValueError:
            body = None
        with self._lock:
            if request.path.endswith("/Submit"):
                answer = self.reporting.submit(body, self.account_id)
            else:
                answer = self.reporting.poll(body, self.url)
        return _json(answer, headers={"TrackingId": _tracking_id()})

    def _check_headers(self, request: Request) -> None:
        problem = self.tokens.check(request.headers.get("Authorization"), SCOPE)
        if problem is not None:
            code, name = TOKEN_EXPIRED if "expired" in problem else INVALID_CREDENTIALS
            raise _Fault(401, "AdApiFaultDetail", [(code, name, problem)])
        if request.headers.get("DeveloperToken") != self.developer_token:
            raise _Fault(
                401,
                "AdApiFaultDetail",
                [(*INVALID_DEVELOPER_TOKEN, "The DeveloperToken header is missing or invalid.")],
            )
        if (request.headers.get("CustomerId"), request.headers.get("CustomerAccountId")) != (
            self.customer_id,
            self.account_id,
        ):
            raise _Fault(
                403,
                "AdApiFaultDetail",
                [
                    (
                        *NOT_AUTHORIZED,
                        "The user is not authorized for this CustomerId/CustomerAccountId.",
                    )
                ],
            )
        self.headers_seen.append(dict(request.headers))

    # -- rules ---------------------------------------------------------------------------------
    def _identity(self, item: dict[str, Any], now: datetime) -> tuple[int, str, str] | None:
        """The checks conversions and adjustments share: goal, identifier, click, time."""
        if item.get("ConversionName") not in self.goals:
            return (
                *NAME_INVALID,
                f"No offline conversion goal named {item.get('ConversionName')!r}.",
            )
        click = item.get("MicrosoftClickId")
        hashes = [item.get(k) for k in ("HashedEmailAddress", "HashedPhoneNumber") if item.get(k)]
        if not click and not hashes:
            return (*IDENTIFIER_MISSING, "MicrosoftClickId or a hashed email or phone is required.")
        if any(not isinstance(h, str) or not SHA256_HEX.match(h) for h in hashes):
            return (*HASH_INVALID, "Hashed values must be SHA-256 hex of the normalised value.")
        when = _parse(item.get("ConversionTime"))
        if when is None or when - now > FUTURE_TOLERANCE:
            return (*TIME_INVALID, "ConversionTime must be a UTC time not in the future.")
        if click:
            clicked = self._clicks.get(str(click))
            if clicked is None:
                return (
                    *CLICK_ID_INVALID,
                    f"MicrosoftClickId {click} is not a click of this account.",
                )
            if now - clicked > CLICK_WINDOW:
                return (*CLICK_TOO_OLD, "The click is older than the 90-day conversion window.")
            if when < clicked:
                return (*BEFORE_CLICK, "ConversionTime must be after the click time.")
        return None

    def _scripted(self, item: dict[str, Any], key: str) -> tuple[int, str, str] | None:
        for name in (key, str(item.get("MicrosoftClickId") or "")):
            if name in self._fail:
                if self._fail[name]:
                    return (*VALUE_INVALID, "The item was refused (scripted by fail_item).")
                del self._fail[name]
                return (*INTERNAL_ERROR, "An internal error has occurred.")
        return None

    def _conversion(self, item: dict[str, Any], now: datetime) -> tuple[Any, ...] | None:
        key = _key(item)
        problem = self._identity(item, now) or self._scripted(item, key)
        if problem is not None:
            return problem
        value = item.get("ConversionValue")
        currency = item.get("ConversionCurrencyCode")
        if value is not None and (not isinstance(value, int | float) or value < 0):
            return (*VALUE_INVALID, "ConversionValue must be a non-negative number.")
        if value is not None and not (isinstance(currency, str) and CURRENCY.match(currency)):
            return (*CURRENCY_INVALID, f"{currency!r} is not a currency code.")
        if key in self._conversions:
            return None  # Microsoft ignores the repeat
        record = {
            "key": key,
            "kind": "conversion",
            "value": None if value is None else str(value),
            "currency": currency,
            "msclkid": item.get("MicrosoftClickId"),
            "conversion_name": item.get("ConversionName"),
            "conversion_time": item.get("ConversionTime"),
            "hashed_email": item.get("HashedEmailAddress"),
            "hashed_phone": item.get("HashedPhoneNumber"),
            "received_at": now,
        }
        self._conversions[key] = record
        self._accepted.append(record)
        return None

    def _adjustment(self, item: dict[str, Any], now: datetime) -> tuple[Any, ...] | None:
        key = _key(item)
        kind = item.get("AdjustmentType")
        if kind not in ("Restate", "Retract"):
            return (*ADJUSTMENT_TYPE_INVALID, "AdjustmentType must be Restate or Retract.")
        problem = self._identity(item, now) or self._scripted(item, key)
        if problem is not None:
            return problem
        if key not in self._conversions:
            return (*CONVERSION_NOT_FOUND, "No offline conversion with this click, name and time.")
        adjusted = _parse(item.get("AdjustmentTime"))
        when = _parse(item.get("ConversionTime"))
        if adjusted is None or when is None or adjusted < when or adjusted - now > FUTURE_TOLERANCE:
            return (
                *ADJUSTMENT_TIME_INVALID,
                "AdjustmentTime must be after ConversionTime and not in the future.",
            )
        value = item.get("AdjustmentValue")
        currency = item.get("AdjustmentCurrencyCode")
        if kind == "Restate":
            if not isinstance(value, int | float) or value < 0:
                return (*ADJUSTMENT_VALUE_INVALID, "Restate needs a non-negative AdjustmentValue.")
            if not (isinstance(currency, str) and CURRENCY.match(currency)):
                return (*CURRENCY_INVALID, f"{currency!r} is not a currency code.")
        elif value is not None:
            return (*ADJUSTMENT_VALUE_INVALID, "Retract takes no AdjustmentValue.")
        seen = (key, str(kind), str(item.get("AdjustmentTime")))
        if seen in self._adjustments:
            return None
        self._adjustments.add(seen)
        self._accepted.append(
            {
                "key": key,
                "kind": "restatement" if kind == "Restate" else "retraction",
                "value": None if value is None else str(value),
                "currency": currency,
                "adjustment_time": item.get("AdjustmentTime"),
                "received_at": now,
            }
        )
        return None


def _key(item: dict[str, Any]) -> str:
    """Microsoft's identity of a conversion: click (or hash), goal name, conversion time."""
    who = (
        item.get("MicrosoftClickId")
        or item.get("HashedEmailAddress")
        or item.get("HashedPhoneNumber")
        or ""
    )
    when = _parse(item.get("ConversionTime"))
    time = when.isoformat() if when else item.get("ConversionTime")
    return f"{who}|{item.get('ConversionName')}|{time}"


def _parse(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        return _utc(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        return None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _tracking_id() -> str:
    return secrets.token_hex(16)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
