"""A local GA4: the Measurement Protocol, the Data API's ``runReport``, the Admin API's deletion.

The Measurement Protocol is emulated as Google runs it: ``/mp/collect`` answers 204 to
everything and silently drops what is invalid or sent with a wrong ``api_secret``;
``/debug/mp/collect`` answers the validation messages and stores nothing. The Data API speaks
the REST transport of ``google-analytics-data`` with OAuth tokens from the built-in token
endpoint; the Admin API's ``properties.submitUserDeletion`` (v1alpha) the REST transport of
``google-analytics-admin``, requiring the ``analytics.edit`` scope Google documents for it.
Limits come from shared/platform-limits.md; where the docs leave a detail open the stricter
reading is taken and marked.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request, Response

from platforms.ga4.limits import (
    BACKDATE_LIMIT,
    MAX_BODY_BYTES,
    MAX_EVENTS,
    MAX_ITEMS,
    MAX_NAME,
    MAX_PARAM_VALUE,
    MAX_PARAMS,
    MAX_USER_ID,
    MAX_USER_PROPERTIES,
    MAX_USER_PROPERTY_NAME,
    MAX_USER_PROPERTY_VALUE,
    NAME_PATTERN,
    RESERVED_EVENTS,
    RESERVED_PARAMS,
    RESERVED_PREFIXES,
    RESERVED_USER_PROPERTIES,
    RESERVED_USER_PROPERTY_PREFIXES,
)
from platforms.sandbox_kit import Fault, FaultPlan, HttpEmulator, TokenIssuer
from platforms.sandbox_kit.oauth import TOKEN_PATH
from platforms.sandbox_kit.tokeninfo import TOKENINFO_PATH, tokeninfo

READONLY_SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
FULL_SCOPE = "https://www.googleapis.com/auth/analytics"
EDIT_SCOPE = "https://www.googleapis.com/auth/analytics.edit"

# -- Measurement Protocol limits -------------------------------------------------------------
CONSENT_KEYS = ("ad_user_data", "ad_personalization")
CONSENT_VALUES = ("GRANTED", "DENIED")

# -- Data API ----------------------------------------------------------------------------------
DIMENSIONS = ("sessionSource", "sessionMedium", "sessionCampaignName", "date")
METRICS = {
    "sessions": "TYPE_INTEGER",
    "engagedSessions": "TYPE_INTEGER",
    "bounceRate": "TYPE_FLOAT",
}
DEFAULT_LIMIT = 10_000
MAX_LIMIT = 250_000
MAX_CONCURRENT_REPORTS = 10
REPORT_PATH = re.compile(r"^/v1beta/properties/(?P<property>[^/:]+):runReport$")
DELETION_PATH = re.compile(r"^/v1alpha/properties/(?P<property>[^/:]+):submitUserDeletion$")
#: The members of SubmitUserDeletionRequest's ``user`` oneof, in their JSON names.
DELETION_USER_FIELDS = ("userId", "clientId", "appInstanceId", "userProvidedData")

Clock = Callable[[], datetime]


@dataclass
class SessionsSeed:
    """One day, source, medium and campaign of the emulated property's sessions."""

    sessions: int
    engaged: int
    bounce_rate: float


class _Obj(dict[str, Any]):
    """A JSON object that remembers keys given twice (GA4 answers NAME_DUPLICATED)."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Obj:
    obj = _Obj()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def _message(field_path: str, description: str, code: str) -> dict[str, str]:
    return {"fieldPath": field_path, "description": description, "validationCode": code}


class MeasurementValidator:
    """GA4's validation server rules for one web measurement (one client, ≤ 25 events)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.messages: list[dict[str, str]] = []

    def add(self, field_path: str, description: str, code: str) -> None:
        """Record one validation message."""
        self.messages.append(_message(field_path, description, code))

    def parse(self, raw: bytes) -> dict[str, Any] | None:
        """The measurement, or None (with messages) when it cannot be read at all."""
        if len(raw) >= MAX_BODY_BYTES:
            self.add("", f"Request body exceeds {MAX_BODY_BYTES} bytes.", "VALUE_OUT_OF_BOUNDS")
            return None
        try:
            body = json.loads(raw.decode("utf-8"), object_pairs_hook=_object_pairs)
        except (UnicodeDecodeError, json.JSONDecodeError):
            self.add("", "Unable to parse Measurement Protocol JSON payload.", "VALUE_INVALID")
            return None
        if not isinstance(body, dict):
            self.add(
                "",
                "Measurement must be a single JSON object: one client per request.",
                "VALUE_INVALID",
            )
            return None
        return body

    def check(self, body: dict[str, Any]) -> list[dict[str, str]]:
        """Every validation message for ``body``; empty means GA4 would keep it."""
        for key in getattr(body, "duplicates", []):
            self.add(key, f"Field [{key}] is given more than once.", "NAME_DUPLICATED")
        client_id = body.get("client_id")
        if client_id is None or client_id == "":
            self.add("client_id", "Measurement requires a client_id.", "VALUE_REQUIRED")
        elif not isinstance(client_id, str):
            self.add("client_id", "client_id must be a string.", "VALUE_INVALID")
        user_id = body.get("user_id")
        if user_id is not None and (not isinstance(user_id, str) or len(user_id) > MAX_USER_ID):
            self.add(
                "user_id",
                f"user_id must be a string of at most {MAX_USER_ID} characters.",
                "VALUE_OUT_OF_BOUNDS",
            )
        if "timestamp_micros" in body:
            self._timestamp("timestamp_micros", body["timestamp_micros"])
        self._consent(body.get("consent"))
        self._user_properties(body.get("user_properties"))
        self._events(body.get("events"))
        return self.messages

    def _timestamp(self, path: str, value: Any) -> None:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"{path} must be an integer (microseconds).", "VALUE_INVALID")
            return
        at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=value)
        if at > self.now:
            self.add(path, f"{path} is in the future.", "VALUE_OUT_OF_BOUNDS")
        elif self.now - at > BACKDATE_LIMIT:
            self.add(
                path,
                f"{path} is more than 72 hours in the past: events can be backdated at most "
                "72 hours.",
                "VALUE_OUT_OF_BOUNDS",
            )

    def _consent(self, consent: Any) -> None:
        if consent is None:
            return
        if not isinstance(consent, dict):
            self.add("consent", "consent must be an object.", "VALUE_INVALID")
            return
        for key, value in consent.items():
            path = f"consent.{key}"
            if key not in CONSENT_KEYS:
                self.add(path, f"Unknown consent field [{key}].", "NAME_INVALID")
            elif value not in CONSENT_VALUES:
                self.add(path, f"{key} must be GRANTED or DENIED, got [{value}].", "VALUE_INVALID")

    def _user_properties(self, properties: Any) -> None:
        if properties is None:
            return
        if not isinstance(properties, dict):
            self.add("user_properties", "user_properties must be an object.", "VALUE_INVALID")
            return
        if len(properties) > MAX_USER_PROPERTIES:
            self.add(
                "user_properties",
                f"At most {MAX_USER_PROPERTIES} user properties per request.",
                "EXCEEDED_MAX_ENTITIES",
            )
        for name, prop in properties.items():
            path = f"user_properties.{name}"
            if len(name) > MAX_USER_PROPERTY_NAME or not NAME_PATTERN.match(name):
                self.add(path, f"User property [{name}] has an invalid name.", "NAME_INVALID")
            elif name in RESERVED_USER_PROPERTIES or name.startswith(
                RESERVED_USER_PROPERTY_PREFIXES
            ):
                self.add(path, f"User property [{name}] is reserved.", "NAME_RESERVED")
            value = prop.get("value") if isinstance(prop, dict) else None
            if isinstance(value, str) and len(value) > MAX_USER_PROPERTY_VALUE:
                self.add(
                    path,
                    f"User property [{name}] value exceeds {MAX_USER_PROPERTY_VALUE} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                )

    def _events(self, events: Any) -> None:
        if not isinstance(events, list) or not events:
            self.add("events", "Measurement requires at least one event.", "VALUE_REQUIRED")
            return
        if len(events) > MAX_EVENTS:
            self.add(
                "events",
                f"Measurement has {len(events)} events; at most {MAX_EVENTS} are allowed.",
                "EXCEEDED_MAX_ENTITIES",
            )
        for index, event in enumerate(events):
            self._event(index, event)

    def _event(self, index: int, event: Any) -> None:
        at = f"Event at index: [{index}]"
        if not isinstance(event, dict):
            self.add("events", f"{at} must be an object.", "VALUE_INVALID")
            return
        for key in getattr(event, "duplicates", []):
            self.add("events", f"{at} gives field [{key}] more than once.", "NAME_DUPLICATED")
        name = event.get("name")
        if not isinstance(name, str) or not name:
            self.add("events", f"{at} requires a name.", "VALUE_REQUIRED")
        elif not NAME_PATTERN.match(name):
            self.add(
                "events",
                f"{at} has invalid name [{name}]. Names must start with an alphabetic character "
                "and contain only alphanumeric characters and underscores.",
                "NAME_INVALID",
            )
        elif len(name) > MAX_NAME:
            self.add(
                "events",
                f"{at} has invalid name [{name}]. Names must be at most {MAX_NAME} characters.",
                "NAME_INVALID",
            )
        elif name in RESERVED_EVENTS or name.startswith(RESERVED_PREFIXES):
            self.add("events", f"{at} has name [{name}] which is reserved.", "NAME_RESERVED")
        if "timestamp_micros" in event:
            before = len(self.messages)
            self._timestamp("timestamp_micros", event["timestamp_micros"])
            for message in self.messages[before:]:
                message["fieldPath"] = "events.timestamp_micros"
                message["description"] = f"{at}: {message['description']}"
        self._params(at, event.get("params"))

    def _params(self, at: str, params: Any) -> None:
        if params is None:
            return
        if not isinstance(params, dict):
            self.add("events.params", f"{at} params must be an object.", "VALUE_INVALID")
            return
        for key in getattr(params, "duplicates", []):
            self.add("events.params", f"{at} has param [{key}] twice.", "NAME_DUPLICATED")
        if len(params) > MAX_PARAMS:
            self.add(
                "events.params",
                f"{at} has {len(params)} params; at most {MAX_PARAMS} are allowed.",
                "EXCEEDED_MAX_ENTITIES",
            )
        for name, value in params.items():
            path = f"events.params.{name}"
            if len(name) > MAX_NAME or not NAME_PATTERN.match(name):
                self.add(path, f"{at} has param with invalid name [{name}].", "NAME_INVALID")
            elif name in RESERVED_PARAMS or name.startswith(RESERVED_PREFIXES):
                self.add(path, f"{at} has param [{name}] which is reserved.", "NAME_RESERVED")
            if isinstance(value, str) and len(value) > MAX_PARAM_VALUE:
                self.add(
                    path,
                    f"{at} param [{name}] value exceeds {MAX_PARAM_VALUE} characters.",
                    "VALUE_OUT_OF_BOUNDS",
                )
            elif name == "items" and isinstance(value, list) and len(value) > MAX_ITEMS:
                self.add(path, f"{at} has more than {MAX_ITEMS} items.", "EXCEEDED_MAX_ENTITIES")
        if "value" in params:
            value = params["value"]
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.add("events.params.value", f"{at} value must be a number.", "VALUE_INVALID")
            currency = params.get("currency")
            if currency in (None, ""):
                self.add(
                    "events.params.currency",
                    f"{at} sets value but no currency; currency is required with value.",
                    "VALUE_REQUIRED",
                )
            elif not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
                self.add(
                    "events.params.currency",
                    f"{at} currency [{currency}] is not an ISO 4217 code.",
                    "VALUE_INVALID",
                )


class GA4Sandbox(HttpEmulator):
    """GA4 emulator: Measurement Protocol, validation server, Data API and token endpoint."""

    name = "ga4"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        clock: Clock | None = None,
        measurement_id: str = "G-SANDBOX01",
        api_secret: str | None = None,
        property_id: str = "123456789",
    ) -> None:
        super().__init__(faults)
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.measurement_id = measurement_id
        self.api_secret = api_secret or "sandbox-" + secrets.token_hex(8)
        self.property_id = property_id
        self.tokens = TokenIssuer()
        self.oauth_client_id = "sandbox-ga4.apps.googleusercontent.com"
        self.oauth_client_secret = "sandbox-" + secrets.token_hex(8)
        self.refresh_token = self.grant({READONLY_SCOPE})
        #: Events GA4 kept, after ``purchase`` dedup on ``transaction_id``.
        self.accepted: list[dict[str, Any]] = []
        #: Measurements ``/mp/collect`` answered 2xx to but threw away, with why.
        self.dropped: list[dict[str, Any]] = []
        self.collect_requests = 0
        self.debug_requests = 0
        self.report_requests = 0
        #: User deletions GA4 accepted: ``property``, ``field`` (clientId...), ``id``, ``time``.
        self.user_deletions: list[dict[str, Any]] = []
        self._deletion_outages = 0
        #: Highest number of Measurement Protocol / Data API requests in flight at once.
        self.peak_in_flight: dict[str, int] = {"mp": 0, "report": 0}
        self._in_flight: dict[str, int] = {"mp": 0, "report": 0, "admin": 0, "other": 0}
        self._streams: dict[str, str] = {}
        self._seen_transactions: set[tuple[str, str]] = set()
        self._sessions: dict[tuple[date, str, str, str], SessionsSeed] = {}
        self._state = threading.Lock()
        self._local = threading.local()
        self.add_stream(measurement_id, self.api_secret)

    # -- setup -------------------------------------------------------------------------------
    def add_stream(self, measurement_id: str, api_secret: str) -> None:
        """Register a web data stream and the API secret that may send to it."""
        self._streams[measurement_id] = api_secret

    def grant(self, scopes: set[str]) -> str:
        """A new refresh token for the sandbox OAuth client, granted ``scopes``."""
        token = "1//sandbox-" + secrets.token_urlsafe(16)
        self.tokens.add_refresh_token(
            token, self.oauth_client_id, self.oauth_client_secret, set(scopes)
        )
        return token

    def add_sessions(
        self,
        day: date,
        source: str,
        medium: str,
        campaign: str,
        sessions: int,
        engaged: int,
        bounce_rate: float,
    ) -> None:
        """Seed the property's sessions for one day and source/medium/campaign."""
        self._sessions[(day, source, medium, campaign)] = SessionsSeed(
            sessions, engaged, bounce_rate
        )

    def fail_user_deletions(self, times: int) -> None:
        """Answer the next ``times`` submitUserDeletion calls 503 UNAVAILABLE (Google's shape)."""
        with self._state:
            self._deletion_outages = times

    def credentials(self, refresh_token: str | None = None) -> dict[str, str]:
        """Inline ``authorized_user`` credentials whose ``token_uri`` is this sandbox."""
        return {
            "type": "authorized_user",
            "client_id": self.oauth_client_id,
            "client_secret": self.oauth_client_secret,
            "refresh_token": refresh_token or self.refresh_token,
            "token_uri": self.url + TOKEN_PATH,
        }

    def platform_config(self) -> dict[str, Any]:
        """The ``platforms.ga4`` config section pointing at this sandbox."""
        return {
            "enabled": True,
            "measurement_id": self.measurement_id,
            "api_secret": self.api_secret,
            "property_id": self.property_id,
            "credentials": self.credentials(),
            "measurement_protocol_url": self.url,
            "data_api_endpoint": self.url,
            "admin_api_endpoint": self.url,
        }

    def start(self) -> GA4Sandbox:
        """Bind a free port and serve in the background."""
        super().start()
        return self

    def __enter__(self) -> GA4Sandbox:
        return self.start()

    # -- serving -----------------------------------------------------------------------------
    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Count requests in flight per API around the fault layer (latency included)."""
        path = environ.get("PATH_INFO", "")
        kind = (
            "report"
            if path.startswith("/v1beta/")
            else "admin"
            if path.startswith("/v1alpha/")
            else "mp"
            if "/mp/" in path
            else "other"
        )
        self._local.kind = kind
        with self._state:
            if kind == "report" and self._in_flight["report"] >= MAX_CONCURRENT_REPORTS:
                environ["ga4.over_concurrency"] = True
                kind = "other"  # refused at once; it does not hold a slot
            self._in_flight[kind] += 1
            if kind in self.peak_in_flight:
                self.peak_in_flight[kind] = max(self.peak_in_flight[kind], self._in_flight[kind])
        try:
            return super()._wsgi(environ, start_response)
        finally:
            with self._state:
                self._in_flight[kind] -= 1

    def fault_response(self, fault: Fault) -> Response:
        """Google JSON errors for the Data API; bare status codes for the collection hosts."""
        if getattr(self._local, "kind", "") in ("report", "admin"):
            if fault is Fault.RATE_LIMIT:
                return _google_error(429, "RESOURCE_EXHAUSTED", "Exhausted property tokens.")
            if fault is Fault.UNAVAILABLE:
                return _google_error(503, "UNAVAILABLE", "The service is currently unavailable.")
            return _google_error(500, "INTERNAL", "Internal error encountered.")
        if fault is Fault.RATE_LIMIT:
            retry = str(int(self.faults.retry_after_seconds))
            return Response(status=429, headers={"Retry-After": retry})
        return Response(status=503 if fault is Fault.UNAVAILABLE else 500)

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Route to the collection, validation, report or token endpoint."""
        request = Request(environ)
        path = request.path
        if path == TOKEN_PATH:
            response = self.tokens.handle(request)
        elif path == TOKENINFO_PATH:
            response = tokeninfo(self.tokens, request, self.oauth_client_id)
        elif path in ("/mp/collect", "/debug/mp/collect"):
            response = (
                self._collect(request, debug=path.startswith("/debug"))
                if request.method == "POST"
                else Response(status=405)
            )
        elif match := REPORT_PATH.match(path):
            response = self._run_report(request, match.group("property"))
        elif match := DELETION_PATH.match(path):
            response = self._submit_user_deletion(request, match.group("property"))
        else:
            response = Response(status=404)
        return response(environ, start_response)

    # -- Measurement Protocol ----------------------------------------------------------------
    def _collect(self, request: Request, *, debug: bool) -> Response:
        validator = MeasurementValidator(self.clock())
        raw = request.get_data()
        body = validator.parse(raw)
        messages = validator.check(body) if body is not None else validator.messages
        measurement_id = request.args.get("measurement_id", "")
        if debug:
            with self._state:
                self.debug_requests += 1
            return _json({"validationMessages": messages})
        with self._state:
            self.collect_requests += 1
            if self._streams.get(measurement_id) is None:
                reason = "unknown measurement_id"
            elif not secrets.compare_digest(
                self._streams[measurement_id], request.args.get("api_secret", "")
            ):
                reason = "wrong api_secret"
            else:
                reason = "invalid measurement" if messages else ""
            if reason or body is None:
                self.dropped.append({"reason": reason, "messages": messages})
            else:
                self._keep(measurement_id, body)
        return Response(status=204)

    def _keep(self, measurement_id: str, body: dict[str, Any]) -> None:
        """Store the measurement's events; a purchase with a known transaction_id is dropped."""
        for event in body["events"]:
            params = dict(event.get("params") or {})
            if event["name"] == "purchase":
                key = (measurement_id, str(params.get("transaction_id", "")))
                if key in self._seen_transactions:
                    continue
                self._seen_transactions.add(key)
            self.accepted.append(
                {
                    "measurement_id": measurement_id,
                    "name": event["name"],
                    "transaction_id": params.get("transaction_id"),
                    "value": params.get("value"),
                    "currency": params.get("currency"),
                    "client_id": body["client_id"],
                    "session_id": params.get("session_id"),
                    "engagement_time_msec": params.get("engagement_time_msec"),
                    "timestamp_micros": event.get("timestamp_micros", body.get("timestamp_micros")),
                    "user_id": body.get("user_id"),
                    "consent": body.get("consent"),
                    "params": params,
                }
            )

    # -- Admin API: user deletion -------------------------------------------------------------
    def _submit_user_deletion(self, request: Request, property_id: str) -> Response:
        """``properties.submitUserDeletion``: one user per call, edit scope, known property."""
        if request.method != "POST":
            return _google_error(405, "INVALID_ARGUMENT", "submitUserDeletion takes POST.")
        failure = self.tokens.check(request.headers.get("Authorization"), EDIT_SCOPE)
        if failure:
            return _auth_error(failure)
        with self._state:
            if self._deletion_outages:
                self._deletion_outages -= 1
                return _google_error(503, "UNAVAILABLE", "The service is currently unavailable.")
        if property_id != self.property_id:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property.",
            )
        try:
            body = json.loads(request.get_data() or b"{}")
        except json.JSONDecodeError:
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(body, dict):
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        unknown = sorted(set(body) - set(DELETION_USER_FIELDS) - {"name"})
        if unknown:
            return _google_error(
                400,
                "INVALID_ARGUMENT",
                f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.',
            )
        given = [f for f in DELETION_USER_FIELDS if body.get(f)]
        if len(given) != 1:
            return _google_error(
                400,
                "INVALID_ARGUMENT",
                "Exactly one of user_id, client_id, app_instance_id or user_provided_data "
                "must be set.",
            )
        moment = self.clock().astimezone(UTC)
        with self._state:
            self.user_deletions.append(
                {
                    "property": property_id,
                    "field": given[0],
                    "id": str(body[given[0]]),
                    "time": moment,
                }
            )
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}Z"
        return _json({"deletionRequestTime": stamp})

    # -- Data API ------------------------------------------------------------------------------
    def _run_report(self, request: Request, property_id: str) -> Response:
        with self._state:
            self.report_requests += 1
        if request.method != "POST":
            return _google_error(405, "INVALID_ARGUMENT", "runReport takes POST.")
        authorization = request.headers.get("Authorization")
        failure = self.tokens.check(authorization, READONLY_SCOPE)
        if failure and failure.startswith("PERMISSION_DENIED"):
            failure = self.tokens.check(authorization, FULL_SCOPE) and failure
        if failure:
            if failure.startswith("UNAUTHENTICATED"):
                return _google_error(
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access "
                    "token, login cookie or other valid authentication credential.",
                )
            return _google_error(
                403,
                "PERMISSION_DENIED",
                "Request had insufficient authentication scopes.",
                reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            )
        if request.environ.get("ga4.over_concurrency"):
            return _google_error(
                429,
                "RESOURCE_EXHAUSTED",
                f"Exhausted concurrent requests quota ({MAX_CONCURRENT_REPORTS} per property).",
            )
        if property_id != self.property_id:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                "User does not have sufficient permissions for this property.",
            )
        try:
            body = json.loads(request.get_data() or b"{}")
            report = _ReportQuery.parse(body, self.clock().date())
        except (ValueError, TypeError) as exc:
            return _google_error(400, "INVALID_ARGUMENT", str(exc))
        with self._state:
            seeds = dict(self._sessions)
        return _json(report.answer(seeds))


@dataclass
class _ReportQuery:
    """A parsed, validated ``RunReportRequest`` over the emulated sessions table."""

    dimensions: list[str]
    metrics: list[str]
    ranges: list[tuple[date, date]]
    limit: int
    offset: int

    @classmethod
    def parse(cls, body: dict[str, Any], today: date) -> _ReportQuery:
        dimensions = [d.get("name", "") for d in body.get("dimensions", [])]
        metrics = [m.get("name", "") for m in body.get("metrics", [])]
        for name in dimensions:
            if name not in DIMENSIONS:
                raise ValueError(
                    f"Field {name} is not a valid dimension. For a list of valid dimensions and "
                    "metrics, see https://developers.google.com/analytics/devguides/reporting/"
                    "data/v1/api-schema"
                )
        for name in metrics:
            if name not in METRICS:
                raise ValueError(
                    f"Field {name} is not a valid metric. For a list of valid dimensions and "
                    "metrics, see https://developers.google.com/analytics/devguides/reporting/"
                    "data/v1/api-schema"
                )
        if not dimensions and not metrics:
            raise ValueError("A report must request at least one dimension or metric.")
        if len(set(dimensions)) != len(dimensions) or len(set(metrics)) != len(metrics):
            raise ValueError("Dimensions and metrics must not repeat in a request.")
        raw_ranges = body.get("dateRanges") or []
        if not raw_ranges:
            raise ValueError("dateRanges is required.")
        if len(raw_ranges) > 4:
            raise ValueError("A request can have at most 4 dateRanges.")
        ranges = []
        for raw in raw_ranges:
            start = _relative_date(raw.get("startDate", ""), today)
            end = _relative_date(raw.get("endDate", ""), today)
            if start > end:
                raise ValueError("Invalid date range: startDate must not be after endDate.")
            ranges.append((start, end))
        limit = int(body.get("limit") or 0)
        offset = int(body.get("offset") or 0)
        if limit < 0 or limit > MAX_LIMIT:
            raise ValueError(f"limit must be positive and at most {MAX_LIMIT:,}; got {limit}.")
        if offset < 0:
            raise ValueError(f"offset must be non-negative; got {offset}.")
        return cls(dimensions, metrics, ranges, limit or DEFAULT_LIMIT, offset)

    def answer(self, seeds: dict[tuple[date, str, str, str], SessionsSeed]) -> dict[str, Any]:
        """Aggregate the seeds by the requested dimensions and return one page of rows."""
        columns = list(self.dimensions)
        if len(self.ranges) > 1:
            columns.append("dateRange")  # GA4 adds it when a request has several ranges
        totals: dict[tuple[str, ...], list[float]] = {}
        for (day, source, medium, campaign), seed in seeds.items():
            values = {
                "sessionSource": source,
                "sessionMedium": medium,
                "sessionCampaignName": campaign,
                "date": day.strftime("%Y%m%d"),
            }
            for index, (start, end) in enumerate(self.ranges):
                if start <= day <= end:
                    values["dateRange"] = f"date_range_{index}"
                    key = tuple(values[c] for c in columns)
                    bucket = totals.setdefault(key, [0, 0, 0.0])
                    bucket[0] += seed.sessions
                    bucket[1] += seed.engaged
                    bucket[2] += seed.bounce_rate * seed.sessions
        keys = sorted(totals)
        page = keys[self.offset : self.offset + self.limit]
        rows = [
            {
                "dimensionValues": [{"value": v} for v in key],
                "metricValues": [{"value": _metric(m, totals[key])} for m in self.metrics],
            }
            for key in page
        ]
        out: dict[str, Any] = {
            "dimensionHeaders": [{"name": c} for c in columns],
            "metricHeaders": [{"name": m, "type": METRICS[m]} for m in self.metrics],
            "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
            "kind": "analyticsData#runReport",
        }
        if rows:
            out["rows"] = rows
            out["rowCount"] = len(keys)
        return out


def _metric(name: str, bucket: list[float]) -> str:
    sessions, engaged, weighted_bounce = bucket
    if name == "sessions":
        return str(int(sessions))
    if name == "engagedSessions":
        return str(int(engaged))
    return repr(round(weighted_bounce / sessions, 6)) if sessions else "0"


def _relative_date(value: str, today: date) -> date:
    """``YYYY-MM-DD``, ``today``, ``yesterday`` or ``NdaysAgo`` as the Data API reads them."""
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    if match := re.fullmatch(r"(\d+)daysAgo", value):
        return today - timedelta(days=int(match.group(1)))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"Invalid date [{value}]: use YYYY-MM-DD, NdaysAgo, yesterday or today."
        ) from None


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _auth_error(failure: str) -> Response:
    """Google's answers to a bad token (401) or one lacking the method's scope (403)."""
    if failure.startswith("UNAUTHENTICATED"):
        return _google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access "
            "token, login cookie or other valid authentication credential.",
        )
    return _google_error(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
        reason="ACCESS_TOKEN_SCOPE_INSUFFICIENT",
    )


def _google_error(status: int, code: str, message: str, reason: str | None = None) -> Response:
    """Google's JSON error envelope, as google-api-core parses it."""
    error: dict[str, Any] = {"code": status, "message": message, "status": code}
    if reason:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "domain": "googleapis.com",
            }
        ]
    return _json({"error": error}, status)
