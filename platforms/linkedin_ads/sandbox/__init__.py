"""A local LinkedIn Marketing API: ``POST /rest/conversionEvents`` and the OAuth token endpoint.

It speaks Rest.li 2.0 as LinkedIn does and checks what LinkedIn checks, so the adapter's
request shape is judged here as in production:

* headers: ``LinkedIn-Version`` (``YYYYMM[.RR]``, an existing month), ``X-Restli-Protocol-Version:
  2.0.0``, ``X-RestLi-Method: BATCH_CREATE`` and a bearer token with ``rw_conversions``; a
  missing or wrong one fails the whole request (400 / 401 / 403 / 426, LinkedIn's error body
  ``{"status", "code", "serviceErrorCode", "message"}``);
* the body ``{"elements": [...]}``, 1 to 5,000 of them;
* per element (a 200 answer with one status per element; 201 created): a known conversion
  rule URN, ``conversionHappenedAt`` in epoch milliseconds within 90 days, ``eventId`` (at most
  64 characters; an event already kept for the rule is not counted again), at least one
  ``userIds`` entry of a known ``idType``, ``SHA256_EMAIL`` as SHA-256 hex, and
  ``conversionValue`` with a currency code and the amount as a string.

Stricter than LinkedIn where LinkedIn would quietly accept and not match: an email hash must
be 64 lowercase hex characters, so an adapter that forgets to hash fails loudly here. Error
``code`` values follow the shape of LinkedIn's answers but are not copied from live ones.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from werkzeug.wrappers import Request, Response

from platforms.sandbox_kit import Fault, FaultPlan, HttpEmulator, TokenIssuer

MAX_ELEMENTS = 5000
MAX_AGE = timedelta(days=90)
FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_EVENT_ID = 64
SCOPE = "rw_conversions"
API_PATH = "/rest/conversionEvents"
TOKEN_PATH = "/oauth/v2/accessToken"
ID_TYPES = frozenset(
    {"SHA256_EMAIL", "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID", "ACXIOM_ID", "ORACLE_MOAT_ID"}
)
CONVERSION_URN = re.compile(r"^urn:lla:llaPartnerConversion:(\d+)$")
VERSION = re.compile(r"^(\d{4})(0[1-9]|1[0-2])(\.\d{2})?$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")


class RestliError(Exception):
    """A whole-request error in LinkedIn's JSON error body."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, service: int | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.service = status, message, code, service

    def body(self) -> dict[str, Any]:
        """``{"status", "message"[, "code"][, "serviceErrorCode"]}``."""
        out: dict[str, Any] = {"status": self.status, "message": self.message}
        if self.code:
            out["code"] = self.code
        if self.service is not None:
            out["serviceErrorCode"] = self.service
        return out

    def response(self) -> Response:
        """The error as LinkedIn sends it."""
        return _json(self.body(), self.status)


class ElementError(Exception):
    """One element refused; it becomes that element's status in the batch answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class LinkedInAdsSandbox(HttpEmulator):
    """Rest.li emulator of LinkedIn's Conversions API and its refresh-token endpoint."""

    name = "linkedin_ads"
    #: The rules the contract kit judges the adapter by (``DestinationSandbox``): LinkedIn has
    #: no consent field, so a denied person's event must not be sent; BATCH_CREATE answers
    #: each element with its own status, so a transient error fails only that element.
    denied_consent: Literal["withheld", "flagged"] = "withheld"
    transient_scope: Literal["item", "request"] = "item"

    @property
    def max_conversion_age(self) -> timedelta | None:
        """LinkedIn refuses events older than 90 days."""
        return MAX_AGE

    @property
    def retry_hint_seconds(self) -> float:
        """A per-element 500 carries no Retry-After; clients wait 30 seconds."""
        return 30.0

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        access_token: str = "AQV-sandbox-linkedin-access-token",
        conversion_id: str = "104906",
        api_version: str = "202603",
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(faults, host=host)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.access_token, self.conversion_id, self.api_version = (
            access_token,
            conversion_id,
            api_version,
        )
        self.issuer = TokenIssuer(token_seconds=3600)
        #: Events LinkedIn kept, once per (conversion rule, eventId).
        self.accepted: list[dict[str, Any]] = []
        #: Elements refused, with LinkedIn's code and message.
        self.rejected: list[dict[str, Any]] = []
        #: Clicks LinkedIn made (``know_click``); LinkedIn matches on them, never refuses.
        self.clicks: dict[str, datetime] = {}
        #: API requests that reached the resource with a valid token.
        self.event_requests = 0
        #: Authorization headers of API requests, newest last (tests check token renewal).
        self.tokens_seen: list[str] = []
        self._conversions: set[str] = set()
        self._tokens: dict[str, frozenset[str]] = {}
        self._seen: set[tuple[str, str]] = set()
        self._fail: dict[str, bool] = {}
        self._lock = threading.Lock()
        from platforms.linkedin_ads.sandbox.reporting import Reporting

        #: ``adAnalytics``, ad accounts and their campaigns (spend).
        self.reporting = Reporting(RestliError)
        self.reset()

    def reset(self) -> None:
        """Forget everything sent and seeded (a running server is reused between tests)."""
        with self._lock:
            self.accepted.clear()
            self.rejected.clear()
            self.clicks.clear()
            self.tokens_seen.clear()
            self.event_requests = 0
            self.requests = 0
            self._conversions = {self.conversion_id}
            self._tokens = {self.access_token: frozenset({SCOPE, "r_ads", "r_ads_reporting"})}
            self.reporting.reset()
            self._seen.clear()
            self._fail.clear()
        self.issuer = TokenIssuer(token_seconds=3600)

    # -- seeding -------------------------------------------------------------------------------
    def add_conversion(self, conversion_id: str) -> None:
        """Create a conversion rule (``conversionMethod: CONVERSIONS_API``) by its ID."""
        self._conversions.add(str(conversion_id))

    def add_token(self, token: str, scopes: set[str]) -> None:
        """Register a long-lived access token with the scopes its member granted."""
        self._tokens[token] = frozenset(scopes)

    def add_refresh_token(
        self, refresh_token: str, client_id: str, client_secret: str, scopes: set[str]
    ) -> None:
        """Register an app's refresh token; tokens it mints carry ``scopes``."""
        self.issuer.add_refresh_token(refresh_token, client_id, client_secret, scopes)

    def add_ad_account(self, account_id: str, currency: str = "USD") -> None:
        """Create an ad account (its numeric ID) reporting in ``currency``."""
        self.reporting.accounts[str(account_id)] = currency

    def add_delivery(
        self,
        account_id: str,
        day: Any,
        campaign_id: str,
        campaign: str,
        cost: Decimal | str,
        clicks: int = 0,
        impressions: int = 0,
    ) -> None:
        """Seed one campaign-day of delivery (and the campaign, by ID and name)."""
        from platforms.linkedin_ads.sandbox.reporting import Delivery

        self.reporting.campaigns[str(campaign_id)] = (str(account_id), campaign)
        self.reporting.delivery.append(
            Delivery(
                str(account_id), day, str(campaign_id), Decimal(str(cost)), clicks, impressions
            )
        )

    def revoke(self, token: str) -> None:
        """Make a token invalid, as when it expires or the member revokes the app."""
        self._tokens.pop(token, None)

    # -- DestinationSandbox --------------------------------------------------------------------
    def platform_config(self) -> dict[str, Any]:
        """The ``platforms.linkedin_ads`` config section that points closedloop here."""
        return {
            "enabled": True,
            "access_token": self.access_token,
            "conversion_id": self.conversion_id,
            "api_version": self.api_version,
            "api_url": f"{self.url}/rest",
            "oauth_url": f"{self.url}/oauth/v2",
        }

    def know_click(self, kind: str, value: str, time: datetime) -> None:
        """Record a click LinkedIn made; it never refuses an unknown one, so this only notes it."""
        if kind == "li_fat_id":
            self.clicks[value] = time

    def fail_item(self, key: str, *, permanent: bool) -> None:
        """Answer the element with ``eventId`` ``key`` with a 400 (permanent) or one 500."""
        self._fail[key] = permanent

    # -- HTTP ----------------------------------------------------------------------------------
    def fault_response(self, fault: Fault) -> Response:
        """Throttling and outages in LinkedIn's error body."""
        if fault is Fault.RATE_LIMIT:
            return RestliError(
                429,
                "Resource level throttle APPLICATION DAY limit for calls to this resource is "
                "reached.",
                code="TOO_MANY_REQUESTS",
            ).response()
        status = 503 if fault is Fault.UNAVAILABLE else 500
        return RestliError(status, "Internal Server Error", code="INTERNAL_SERVER_ERROR").response()

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Route to the conversions resource or the token endpoint."""
        request = Request(environ)
        try:
            if request.path == TOKEN_PATH:
                response = self._token_endpoint(request)
            elif request.path == API_PATH:
                response = self._conversion_events(request)
            elif self.reporting.handles(request.path):
                self._check_token(
                    request.headers.get("Authorization"), self.reporting.scope(request.path)
                )
                self._check_headers(request, method=None)
                response = _json(self.reporting.answer(request))
            else:
                raise RestliError(404, f"No virtual resource found for {request.path}")
        except RestliError as error:
            response = error.response()
        return response(environ, start_response)

    def _token_endpoint(self, request: Request) -> Response:
        with self._count_lock:
            self.requests -= 1  # ``requests`` counts API calls only, not token renewals
        response = self.issuer.handle(request)
        if response.status_code == 200:
            body = json.loads(response.get_data())
            self._tokens[body["access_token"]] = frozenset(body["scope"].split())
        return response

    # -- conversionEvents ----------------------------------------------------------------------
    def _conversion_events(self, request: Request) -> Response:
        if request.method != "POST":
            raise RestliError(405, f"{request.method} is not supported on conversionEvents")
        self._check_token(request.headers.get("Authorization"))
        self._check_headers(request)
        elements = _elements(request)
        now = self.clock()
        with self._lock:
            self.event_requests += 1
            statuses = [self._element(element, now) for element in elements]
        return _json({"elements": statuses})

    def _check_token(self, header: str | None, scope: str = SCOPE) -> None:
        if not header or not header.startswith("Bearer "):
            raise RestliError(
                401, "Empty oauth2 access token", code="EMPTY_ACCESS_TOKEN", service=65600
            )
        token = header.removeprefix("Bearer ").strip()
        with self._lock:
            self.tokens_seen.append(token)
        scopes = self._tokens.get(token)
        if scopes is None:
            raise RestliError(
                401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service=65600
            )
        if scope not in scopes:
            raise RestliError(
                403,
                "Not enough permissions to access: conversionEvents.BATCH_CREATE.NO_VERSION"
                if scope == SCOPE
                else f"Not enough permissions to access this resource (needs scope {scope})",
                code="ACCESS_DENIED",
                service=100,
            )

    def _check_headers(self, request: Request, method: str | None = "BATCH_CREATE") -> None:
        version = request.headers.get("LinkedIn-Version")
        if not version:
            raise RestliError(
                400,
                "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.",
                code="VERSION_MISSING",
            )
        match = VERSION.match(version)
        now = self.clock()
        if match is None or (int(match.group(1)), int(match.group(2))) > (now.year, now.month):
            raise RestliError(
                426, f"Requested version {version} is not active", code="NONEXISTENT_VERSION"
            )
        protocol = request.headers.get("X-Restli-Protocol-Version")
        if protocol != "2.0.0":
            raise RestliError(
                400,
                f"X-Restli-Protocol-Version must be 2.0.0 (got {protocol!r})",
                code="INVALID_PROTOCOL_VERSION",
            )
        if method is None:
            return
        method = request.headers.get("X-RestLi-Method")
        if method != "BATCH_CREATE":
            raise RestliError(
                400,
                f"Rest.li method {method!r} is not supported here: send X-RestLi-Method: "
                'BATCH_CREATE with {"elements": [...]}',
                code="UNSUPPORTED_METHOD",
            )

    def _element(self, element: Any, now: datetime) -> dict[str, Any]:
        key = element.get("eventId") if isinstance(element, dict) else None
        try:
            _validate(element, now, self._conversions)
            fail = self._fail.get(str(key)) if key is not None else None
            if fail is not None:
                if not fail:
                    del self._fail[str(key)]
                    raise ElementError(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")
                raise ElementError(
                    400, "INVALID_EVENT", "The sandbox was told to refuse this event"
                )
        except ElementError as error:
            self.rejected.append({"key": key, "code": error.code, "message": error.message})
            return {
                "status": error.status,
                "error": {"status": error.status, "code": error.code, "message": error.message},
            }
        self._keep(element, now)
        return {"status": 201}

    def _keep(self, element: dict[str, Any], now: datetime) -> None:
        dedup = (element["conversion"], element["eventId"])
        if dedup in self._seen:
            return  # LinkedIn counts one event per eventId and conversion rule
        self._seen.add(dedup)
        value = element.get("conversionValue") or {}
        self.accepted.append(
            {
                "key": element["eventId"],
                "kind": "conversion",
                "value": value.get("amount"),
                "currency": value.get("currencyCode"),
                "conversion": element["conversion"],
                "happened_at": datetime.fromtimestamp(element["conversionHappenedAt"] / 1000, UTC),
                "user_ids": {u["idType"]: u["idValue"] for u in element["user"]["userIds"]},
                "received_at": now,
            }
        )


def _elements(request: Request) -> list[Any]:
    try:
        body = json.loads(request.get_data() or b"null")
    except ValueError as exc:
        raise RestliError(400, f"Cannot parse request body: {exc}", code="MALFORMED_JSON") from exc
    elements = body.get("elements") if isinstance(body, dict) else None
    if not isinstance(elements, list) or not elements:
        raise RestliError(
            400, 'BATCH_CREATE needs a non-empty "elements" array', code="INVALID_BODY"
        )
    if len(elements) > MAX_ELEMENTS:
        raise RestliError(
            400,
            f"Too many elements in batch request: {len(elements)} > {MAX_ELEMENTS}",
            code="BATCH_SIZE_EXCEEDED",
        )
    return elements


def _invalid(code: str, message: str) -> ElementError:
    return ElementError(400, code, message)


def _validate(element: Any, now: datetime, conversions: set[str]) -> None:
    """Raise the element's error for the first problem LinkedIn would refuse it for."""
    if not isinstance(element, dict):
        raise _invalid("INVALID_EVENT", "each element must be an object")
    urn = element.get("conversion")
    match = CONVERSION_URN.match(urn) if isinstance(urn, str) else None
    if match is None:
        raise _invalid(
            "INVALID_CONVERSION", "/conversion must be urn:lla:llaPartnerConversion:<id>"
        )
    if match.group(1) not in conversions:
        raise _invalid("CONVERSION_NOT_FOUND", f"Conversion rule {urn} does not exist")
    happened = element.get("conversionHappenedAt")
    if not isinstance(happened, int) or isinstance(happened, bool):
        raise _invalid(
            "INVALID_TIMESTAMP", "/conversionHappenedAt must be epoch milliseconds (an integer)"
        )
    occurred = datetime.fromtimestamp(happened / 1000, UTC)
    if now - occurred > MAX_AGE:
        raise _invalid("EVENT_TOO_OLD", "/conversionHappenedAt is more than 90 days in the past")
    if occurred - now > FUTURE_TOLERANCE:
        raise _invalid("EVENT_IN_FUTURE", "/conversionHappenedAt is in the future")
    event_id = element.get("eventId")
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
        raise _invalid("INVALID_EVENT_ID", f"/eventId must be 1 to {MAX_EVENT_ID} characters")
    _validate_user(element.get("user"))
    value = element.get("conversionValue")
    if value is not None:
        if not isinstance(value, dict):
            raise _invalid("INVALID_VALUE", "/conversionValue must be an object")
        currency, amount = value.get("currencyCode"), value.get("amount")
        if not isinstance(currency, str) or not CURRENCY.match(currency):
            raise _invalid("INVALID_CURRENCY", "/conversionValue/currencyCode must be ISO 4217")
        if not isinstance(amount, str) or not AMOUNT.match(amount):
            raise _invalid(
                "INVALID_AMOUNT", "/conversionValue/amount must be a decimal number as a string"
            )
        try:
            Decimal(amount)
        except InvalidOperation:
            raise _invalid("INVALID_AMOUNT", "/conversionValue/amount is not a number") from None


def _validate_user(user: Any) -> None:
    user_ids = user.get("userIds") if isinstance(user, dict) else None
    if not isinstance(user_ids, list) or not user_ids:
        raise _invalid("MISSING_USER_IDS", "/user/userIds must hold at least one user ID")
    kinds: set[str] = set()
    for index, entry in enumerate(user_ids):
        where = f"/user/userIds/{index}"
        if not isinstance(entry, dict):
            raise _invalid("INVALID_USER_ID", f"{where} must be an object")
        id_type, id_value = entry.get("idType"), entry.get("idValue")
        if id_type not in ID_TYPES:
            raise _invalid(
                "INVALID_ID_TYPE",
                f"{where}/idType {id_type!r} is not one of {', '.join(sorted(ID_TYPES))}",
            )
        if id_type in kinds:
            raise _invalid("DUPLICATE_ID_TYPE", f"{where}: one {id_type} per event")
        kinds.add(id_type)
        if not isinstance(id_value, str) or not id_value.strip():
            raise _invalid("INVALID_USER_ID", f"{where}/idValue must be a non-empty string")
        if id_type == "SHA256_EMAIL" and not SHA256_HEX.match(id_value):
            raise _invalid(
                "INVALID_SHA256_EMAIL",
                f"{where}/idValue must be the SHA-256 hex of the trimmed, lower-cased email",
            )


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/json",
        headers={"x-li-uuid": secrets.token_hex(8)},
    )
