"""A local Graph API: the Conversions API events edge and the ad account insights edge.

The facebook-business SDK talks to it unmodified (only ``FacebookSession.GRAPH`` points here).
It enforces the documented Conversions API limits (see shared/platform-limits.md) and answers in
Graph's error envelope with Graph's codes, so adapter code paths match production:

* one bad event fails the whole request (HTTP 400, code 100 with a subcode);
* the access token is checked per pixel / ad account (code 190);
* faults from the ``FaultPlan`` come back as rate limits (HTTP 429, code 4,
  ``is_transient: true`` and an ``X-Business-Use-Case-Usage`` header with
  ``estimated_time_to_regain_access`` in minutes) and service errors (500/503, code 2).

Hashing is checked strictly: ``em``, ``ph``, ``fn``, ``ln``, ``ct``, ``st``, ``zp``,
``country``, ``ge`` and ``db`` must be SHA-256 hex (64 lowercase hex characters). The real API
is more lenient with some plain values (it may hash or drop them and report it only in Events
Manager); the sandbox rejects them so that an adapter that forgets to hash fails loudly here.
Error subcodes marked (unverified) below follow the public docs' shape but could not be
checked against a live response.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from platforms.meta.sandbox.nodes import GraphNodes
from platforms.sandbox_kit import Fault, FaultPlan, HttpEmulator

MAX_EVENTS = 1000
MAX_AGE = timedelta(days=7)
MAX_AGE_PHYSICAL_STORE = timedelta(days=62)
FUTURE_TOLERANCE = timedelta(seconds=60)
DEDUP_WINDOW = timedelta(hours=48)

ACTION_SOURCES = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)
HASHED_KEYS = ("em", "ph", "fn", "ln", "ct", "st", "zp", "country", "ge", "db")
PLAIN_KEYS = ("client_ip_address", "client_user_agent", "fbc", "fbp", "lead_id")
#: Parameters that let Meta match a person; a user agent alone does not.
MATCH_KEYS = frozenset(
    {
        *HASHED_KEYS,
        "external_id",
        "fbc",
        "fbp",
        "lead_id",
        "subscription_id",
        "fb_login_id",
        "madid",
        "anon_id",
        "ctwa_clid",
        "page_id",
    }
)
INSIGHT_FIELDS = frozenset(
    {
        "spend",
        "clicks",
        "impressions",
        "campaign_id",
        "campaign_name",
        "adset_id",
        "adset_name",
        "ad_id",
        "ad_name",
        "date_start",
        "date_stop",
        "account_currency",
        "account_id",
    }
)
LEVELS = ("campaign", "adset", "ad")

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
#: The appendix Meta's parameter builders add: 8 base64url characters, or a legacy 2-character
#: language token (capi-param-builder's SUPPORTED_LANGUAGES_TOKENS).
_APPENDIX = r"(\.(AQ|Ag|Aw|BA|BQ|Bg|[A-Za-z0-9_\-]{8}))?"
FBC = re.compile(rf"^fb\.\d+\.\d{{13}}\.[A-Za-z0-9_\-]+{_APPENDIX}$")
FBP = re.compile(rf"^fb\.\d+\.\d{{13}}\.\d+{_APPENDIX}$")
LEAD_ID = re.compile(r"^\d{15,16}$")
VERSION = re.compile(r"^v\d+\.\d+$")

# Conversions API subcodes of "Invalid parameter" (code 100).
SUB_TOO_OLD = 2804003
SUB_IN_FUTURE = 2804004  # (unverified)
SUB_BAD_VALUE = 2804019  # (unverified) malformed or unhashed user_data value
SUB_NO_USER_DATA = 2804050  # (unverified) no usable customer information
SUB_MISSING_FIELD = 2804016  # (unverified) required field missing (action_source, website ctx)
SUB_TOO_MANY = 2804008  # (unverified) more than 1,000 events
SUB_OBJECT_MISSING = 33  # "Object with ID ... does not exist"


class GraphError(Exception):
    """A Graph API error, rendered as Graph's JSON envelope."""

    def __init__(
        self,
        message: str,
        *,
        code: int,
        status: int = 400,
        type_: str = "OAuthException",
        subcode: int | None = None,
        user_title: str | None = None,
        user_msg: str | None = None,
        transient: bool = False,
    ) -> None:
        super().__init__(message)
        self.message, self.code, self.status, self.type = message, code, status, type_
        self.subcode, self.user_title, self.user_msg = subcode, user_title, user_msg
        self.transient = transient

    def response(self, headers: dict[str, str] | None = None) -> Response:
        """Graph's envelope: ``{"error": {message, type, code, error_subcode, ...}}``."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.type,
            "code": self.code,
            "is_transient": self.transient,
            "fbtrace_id": _trace_id(),
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title:
            error["error_user_title"] = self.user_title
        if self.user_msg:
            error["error_user_msg"] = self.user_msg
        return _json({"error": error}, self.status, headers)


def _invalid(subcode: int, title: str, user_msg: str) -> GraphError:
    return GraphError(
        "Invalid parameter", code=100, subcode=subcode, user_title=title, user_msg=user_msg
    )


@dataclass
class _Insight:
    day: date
    campaign_id: str
    campaign_name: str
    adset_id: str
    adset_name: str
    ad_id: str
    ad_name: str
    spend: Decimal
    clicks: int
    impressions: int


class MetaSandbox(HttpEmulator):
    """Graph API emulator for ``/{version}/{pixel_id}/events`` and ``act_{id}/insights``."""

    name = "meta"
    #: Meta has no per-event consent field: a person who denied ad_user_data must not have
    #: identifiers sent, so the conversion never reaches it (platform-limits.md, Meta).
    denied_consent: Literal["withheld", "flagged"] = "withheld"
    #: A transient Graph error (rate limit) fails the whole request, never one event.
    transient_scope: Literal["item", "request"] = "request"

    def __init__(
        self,
        faults: FaultPlan | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        pixel_id: str = "1234567890123456",
        access_token: str = "EAAB-sandbox-access-token",
        ad_account_id: str = "1000000001",
        account_currency: str = "USD",
        api_version: str = "v24.0",
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(faults, host=host)
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.pixel_id, self.access_token = pixel_id, access_token
        self.ad_account_id, self.api_version = ad_account_id, api_version
        #: Events Meta kept, after its own 48-hour event_name + event_id dedup.
        self.accepted: list[dict[str, Any]] = []
        #: Events sent with a ``test_event_code``: shown in Test Events, never counted.
        self.test_events: list[dict[str, Any]] = []
        #: Requests that reached the events edge with a valid token, accepted or not.
        self.event_requests = 0
        #: Events that failed their request, with Graph's ``code``, ``subcode`` and message.
        self.rejected: list[dict[str, Any]] = []
        #: ``fail_item``: event_id -> permanent (True) or transient once (False).
        self._fail: dict[str, bool] = {}
        self._pixels: dict[str, str] = {}
        self._accounts: dict[str, tuple[str, str]] = {}
        self._insights: dict[str, list[_Insight]] = defaultdict(list)
        self._seen: dict[tuple[str, str, str], datetime] = {}
        self._lock = threading.Lock()
        self._account_currency = account_currency
        #: debug_token, pixel and ad account reads (doctor's calls).
        self.nodes = GraphNodes(self)

        from platforms.meta.sandbox.pixels import MetaPixels

        #: the ad account's pixel list (``closedloop meta pixels``).
        self.pixels = MetaPixels(self)
        self.reset()

    def reset(self) -> None:
        """Forget everything sent and seeded (a running server is reused between tests)."""
        with self._lock:
            self.accepted.clear()
            self.rejected.clear()
            self._fail.clear()
            self.test_events.clear()
            self.event_requests = 0
            self.requests = 0
            self._pixels.clear()
            self._accounts.clear()
            self._insights.clear()
            self._seen.clear()
        self.add_pixel(self.pixel_id, self.access_token)
        self.add_ad_account(self.ad_account_id, self.access_token, self._account_currency)
        self.pixels.reset()

    # -- seeding -------------------------------------------------------------------------------
    def add_pixel(self, pixel_id: str, access_token: str) -> None:
        """Register a pixel (dataset) and the token allowed to send events to it."""
        self._pixels[str(pixel_id)] = access_token

    def add_ad_account(self, ad_account_id: str, access_token: str, currency: str = "USD") -> None:
        """Register an ad account (without ``act_``) and the token allowed to read it."""
        self._accounts[str(ad_account_id).removeprefix("act_")] = (access_token, currency)

    def add_insight(
        self,
        day: date,
        campaign_id: str,
        campaign_name: str,
        spend: Decimal | str | float,
        clicks: int,
        impressions: int,
        *,
        adset_id: str = "",
        adset_name: str = "",
        ad_id: str = "",
        ad_name: str = "",
        ad_account_id: str | None = None,
    ) -> None:
        """Seed one day of delivery for one ad (the finest level; coarser levels are sums)."""
        account = str(ad_account_id or self.ad_account_id).removeprefix("act_")
        self._insights[account].append(
            _Insight(
                day,
                campaign_id,
                campaign_name,
                adset_id or f"{campaign_id}-as",
                adset_name or f"{campaign_name} ad set",
                ad_id or f"{campaign_id}-ad",
                ad_name or f"{campaign_name} ad",
                Decimal(str(spend)),
                clicks,
                impressions,
            )
        )

    def know_click(self, kind: str, value: str, time: datetime) -> None:
        """No-op: Meta takes the click as the ``fbc`` the event carries, unchecked."""

    def fail_item(self, key: str, *, permanent: bool) -> None:
        """Fail requests carrying event_id ``key`` as Meta does: the whole request.

        ``permanent``: code 100 with a Conversions API subcode (invalid parameter), every
        time; otherwise, once, the rate limit (HTTP 429, code 4, ``is_transient``) with the
        ``X-Business-Use-Case-Usage`` wait.
        """
        with self._lock:
            self._fail[key] = permanent

    @property
    def max_conversion_age(self) -> timedelta | None:
        """Seven days (``action_source`` physical_store: 62), as the default config sends."""
        return MAX_AGE

    @property
    def retry_hint_seconds(self) -> float:
        """Graph gives the wait in whole minutes (``estimated_time_to_regain_access``)."""
        return 60.0 * _regain_minutes(self.faults.retry_after_seconds)

    def platform_config(self) -> dict[str, Any]:
        """The ``platforms.meta`` config section that points closedloop here."""
        return {
            "enabled": True,
            "pixel_id": self.pixel_id,
            "access_token": self.access_token,
            "ad_account_id": self.ad_account_id,
            "api_version": self.api_version,
            "graph_url": self.url,
        }

    # -- HTTP ----------------------------------------------------------------------------------
    def fault_response(self, fault: Fault) -> Response:
        """Rate limits and outages the way Graph reports them (transient, retry later)."""
        if fault is Fault.RATE_LIMIT:
            return self._rate_limited()
        if fault is Fault.UNAVAILABLE:
            return GraphError(
                "Service temporarily unavailable", code=2, status=503, transient=True
            ).response()
        return GraphError(
            "An unexpected error has occurred. Please retry your request later.",
            code=2,
            status=500,
            transient=True,
        ).response()

    def _rate_limited(self) -> Response:
        minutes = _regain_minutes(self.faults.retry_after_seconds)
        usage = {"type": "ads_management", "estimated_time_to_regain_access": minutes}
        return GraphError(
            "(#4) Application request limit reached",
            code=4,
            status=429,
            transient=True,
        ).response({"X-Business-Use-Case-Usage": json.dumps({"0": [usage]})})

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """Route to the events or insights edge; every failure is a Graph envelope."""
        request = Request(environ)
        try:
            response = self._route(request)
        except GraphError as error:
            response = error.response()
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        answer = self.pixels.route(request, parts) if parts and VERSION.match(parts[0]) else None
        if answer is not None:
            return answer
        if len(parts) == 2 and VERSION.match(parts[0]) and request.method == "GET":
            return self.nodes.get(request, parts[1])
        if len(parts) != 3 or not VERSION.match(parts[0]):
            raise GraphError(
                f"Unknown path components: /{'/'.join(parts[1:])}",
                code=2500,
                type_="OAuthException",
            )
        _, node, edge = parts
        token = request.values.get("access_token")
        if not token:
            raise GraphError("An access token is required to request this resource.", code=104)
        if request.method == "POST" and edge == "events":
            return self._events(node, token, request)
        if request.method == "GET" and edge == "insights" and node.startswith("act_"):
            return self._insights_edge(node.removeprefix("act_"), token, request)
        raise GraphError(
            f"Unsupported {request.method.lower()} request.", code=100, type_="GraphMethodException"
        )

    @staticmethod
    def _check_token(expected: str | None, token: str, node: str) -> None:
        if expected is None:
            raise GraphError(
                f"Unsupported post request. Object with ID '{node}' does not exist, cannot be "
                "loaded due to missing permissions, or does not support this operation.",
                code=100,
                subcode=SUB_OBJECT_MISSING,
                type_="GraphMethodException",
            )
        if not secrets.compare_digest(expected, token):
            raise GraphError("Invalid OAuth access token - Cannot parse access token", code=190)

    # -- events edge ---------------------------------------------------------------------------
    def _events(self, pixel_id: str, token: str, request: Request) -> Response:
        self._check_token(self._pixels.get(pixel_id), token, pixel_id)
        with self._lock:
            self.event_requests += 1
        events = _parse_data(request.values.get("data"))
        if len(events) > MAX_EVENTS:
            raise _invalid(
                SUB_TOO_MANY,
                "Too Many Events",
                f"You can send at most {MAX_EVENTS} events in one request; got {len(events)}.",
            )
        with self._lock:
            transient = [
                e.get("event_id") for e in events if self._fail.get(e.get("event_id")) is False
            ]
            for key in transient:
                del self._fail[key]
        if transient:
            return self._rate_limited()
        now = self.clock()
        for index, event in enumerate(events):
            try:
                if self._fail.get(event.get("event_id")):
                    raise _invalid(
                        SUB_BAD_VALUE,
                        "Invalid Parameter",
                        "The sandbox was told to refuse this event (fail_item).",
                    )
                _validate_event(index, event, now)
            except GraphError as error:
                with self._lock:
                    self.rejected.append(
                        {
                            "key": event.get("event_id"),
                            "code": error.code,
                            "subcode": error.subcode,
                            "message": error.user_msg or error.message,
                        }
                    )
                raise
        test_code = request.values.get("test_event_code")
        with self._lock:
            for event in events:
                self._keep(pixel_id, event, test_code, now)
        return _json({"events_received": len(events), "messages": [], "fbtrace_id": _trace_id()})

    def _keep(
        self, pixel_id: str, event: dict[str, Any], test_code: str | None, now: datetime
    ) -> None:
        custom = event.get("custom_data") or {}
        record = {
            "key": event.get("event_id"),
            "kind": "conversion",
            "consent_denied": None,  # Meta has no consent field
            "pixel_id": pixel_id,
            "event_name": event["event_name"],
            "event_id": event.get("event_id"),
            "event_time": event["event_time"],
            "action_source": event["action_source"],
            "value": custom.get("value"),
            "currency": custom.get("currency"),
            "custom_data": custom,
            "user_data_keys": sorted(event["user_data"]),
            "user_data": event["user_data"],
            "event_source_url": event.get("event_source_url"),
            "data_processing": {
                k.removeprefix("data_processing_"): event[k]
                for k in (
                    "data_processing_options",
                    "data_processing_options_country",
                    "data_processing_options_state",
                )
                if k in event
            },
            "received_at": now,
        }
        if test_code:
            self.test_events.append({**record, "test_event_code": test_code})
            return
        if record["event_id"]:
            key = (pixel_id, str(record["event_name"]), str(record["event_id"]))
            first = self._seen.get(key)
            if first is not None and now - first < DEDUP_WINDOW:
                return
            self._seen[key] = now
        self.accepted.append(record)

    # -- insights edge -------------------------------------------------------------------------
    def _insights_edge(self, account: str, token: str, request: Request) -> Response:
        expected = self._accounts.get(account)
        self._check_token(expected[0] if expected else None, token, f"act_{account}")
        assert expected is not None
        currency = expected[1]
        fields = [f for f in request.args.get("fields", "").split(",") if f]
        unknown = [f for f in fields if f not in INSIGHT_FIELDS]
        if unknown:
            raise GraphError(
                f"(#100) {unknown[0]} is not valid for fields param. please check "
                "https://developers.facebook.com/docs/marketing-api/reference/ads-insights/ "
                "for all valid values",
                code=100,
            )
        level = request.args.get("level", "ad")
        if level not in LEVELS:
            raise GraphError(
                f"(#100) param level must be one of {{ad, adset, campaign, account}}; got {level}",
                code=100,
            )
        since, until = _time_range(request.args.get("time_range"))
        daily = request.args.get("time_increment") in ("1",)
        rows = self._aggregate(account, level, since, until, daily, currency)
        rows = [{k: v for k, v in row.items() if k in fields or not fields} for row in rows]
        try:
            limit = min(int(request.args.get("limit", "25")), 5000)
            offset = _decode_cursor(request.args.get("after"))
        except ValueError as exc:
            raise GraphError(f"(#100) Invalid paging parameter: {exc}", code=100) from exc
        page = rows[offset : offset + limit]
        body: dict[str, Any] = {"data": page}
        if rows:
            body["paging"] = {
                "cursors": {
                    "before": _encode_cursor(offset),
                    "after": _encode_cursor(offset + len(page)),
                }
            }
            if offset + len(page) < len(rows):
                query = {k: v for k, v in request.args.items(multi=False)}
                query["after"] = _encode_cursor(offset + len(page))
                body["paging"]["next"] = f"{self.url}{request.path}?{urlencode(query)}"
        return _json(body)

    def _aggregate(
        self, account: str, level: str, since: date, until: date, daily: bool, currency: str
    ) -> list[dict[str, Any]]:
        depth = LEVELS.index(level)
        sums: dict[tuple[Any, ...], dict[str, Any]] = {}
        for item in sorted(self._insights[account], key=lambda i: (i.day, i.ad_id)):
            if not since <= item.day <= until:
                continue
            start, stop = (item.day, item.day) if daily else (since, until)
            ids = (item.campaign_id, item.adset_id, item.ad_id)[: depth + 1]
            row = sums.setdefault(
                (start, *ids),
                {
                    "account_id": account,
                    "account_currency": currency,
                    "campaign_id": item.campaign_id,
                    "campaign_name": item.campaign_name,
                    **(
                        {"adset_id": item.adset_id, "adset_name": item.adset_name}
                        if depth >= 1
                        else {}
                    ),
                    **({"ad_id": item.ad_id, "ad_name": item.ad_name} if depth >= 2 else {}),
                    "date_start": start.isoformat(),
                    "date_stop": stop.isoformat(),
                    "spend": Decimal("0"),
                    "clicks": 0,
                    "impressions": 0,
                },
            )
            row["spend"] += item.spend
            row["clicks"] += item.clicks
            row["impressions"] += item.impressions
        # Graph returns every metric as a string.
        return [
            {
                **row,
                "spend": str(row["spend"]),
                "clicks": str(row["clicks"]),
                "impressions": str(row["impressions"]),
            }
            for row in sums.values()
        ]


# -- validation --------------------------------------------------------------------------------
def _parse_data(raw: str | None) -> list[dict[str, Any]]:
    """``data`` is a JSON array of events; the SDK sends each event as a JSON string."""
    if raw is None:
        raise GraphError("(#100) The parameter data is required", code=100)
    try:
        items = json.loads(raw)
        if not isinstance(items, list):
            raise ValueError("not an array")
        events = [json.loads(i) if isinstance(i, str) else i for i in items]
    except ValueError as exc:
        raise GraphError(f"(#100) param data must be an array: {exc}", code=100) from exc
    if not events:
        raise GraphError("(#100) param data must be a non-empty array", code=100)
    if not all(isinstance(e, dict) for e in events):
        raise GraphError("(#100) every element of data must be an object", code=100)
    return events


def _validate_event(index: int, event: dict[str, Any], now: datetime) -> None:
    """Raise the Graph error for the first problem in ``event`` (it fails the whole request)."""
    where = f"data[{index}]"
    if not isinstance(event.get("event_name"), str) or not event["event_name"]:
        raise GraphError(f"(#100) The parameter {where}[event_name] is required", code=100)
    event_time = event.get("event_time")
    if not isinstance(event_time, int) or isinstance(event_time, bool):
        raise GraphError(
            f"(#100) param {where}[event_time] must be an integer (Unix seconds)", code=100
        )
    source = event.get("action_source")
    if source is None:
        raise _invalid(
            SUB_MISSING_FIELD,
            "Missing action_source",
            "The action_source parameter is required for every server event.",
        )
    if source not in ACTION_SOURCES:
        allowed = ", ".join(sorted(ACTION_SOURCES))
        raise GraphError(
            f"(#100) param {where}[action_source] must be one of {{{allowed}}}", code=100
        )
    occurred = datetime.fromtimestamp(event_time, UTC)
    max_age = MAX_AGE_PHYSICAL_STORE if source == "physical_store" else MAX_AGE
    if now - occurred > max_age:
        raise _invalid(
            SUB_TOO_OLD,
            "Event Timestamp Too Old",
            "The timestamp for this event is too far in the past. Events need to be sent from "
            f"your server within {max_age.days} days of when they occurred.",
        )
    if occurred - now > FUTURE_TOLERANCE:
        raise _invalid(
            SUB_IN_FUTURE,
            "Event Timestamp In Future",
            "The timestamp for this event is in the future. Use the time the event occurred.",
        )
    user_data = event.get("user_data")
    if not isinstance(user_data, dict) or not user_data:
        raise GraphError(f"(#100) The parameter {where}[user_data] is required", code=100)
    if source == "website" and not (
        user_data.get("client_user_agent") and event.get("event_source_url")
    ):
        raise _invalid(
            SUB_MISSING_FIELD,
            "Missing Website Parameters",
            "Events with action_source website need client_user_agent and event_source_url.",
        )
    _validate_user_data(user_data)
    _validate_data_processing(where, event)
    custom = event.get("custom_data") or {}
    if not isinstance(custom, dict):
        raise GraphError(f"(#100) param {where}[custom_data] must be an object", code=100)
    has_value = custom.get("value") is not None
    currency = custom.get("currency")
    if currency is not None and not (
        isinstance(currency, str) and re.fullmatch(r"[a-zA-Z]{3}", currency)
    ):
        raise _invalid(SUB_BAD_VALUE, "Invalid Currency", f"{currency!r} is not an ISO 4217 code.")
    if has_value and not isinstance(custom["value"], int | float):
        raise _invalid(SUB_BAD_VALUE, "Invalid Value", "custom_data.value must be a number.")
    if (has_value and not currency) or (
        event["event_name"] == "Purchase" and not (has_value and currency)
    ):
        raise _invalid(
            SUB_MISSING_FIELD,
            "Missing Value Or Currency",
            "Purchase events and events with a value need both value and currency in custom_data.",
        )


def _validate_data_processing(where: str, event: dict[str, Any]) -> None:
    """Limited Data Use: ``[]`` or ``["LDU"]``, with integer country and state codes."""
    options = event.get("data_processing_options")
    if options is not None and (not isinstance(options, list) or any(o != "LDU" for o in options)):
        raise GraphError(
            f"(#100) param {where}[data_processing_options] must be an array of 'LDU'", code=100
        )
    for key in ("data_processing_options_country", "data_processing_options_state"):
        value = event.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 0
        ):
            raise GraphError(f"(#100) param {where}[{key}] must be an integer code", code=100)
        if value is not None and not options:
            raise GraphError(f"(#100) param {where}[{key}] needs data_processing_options", code=100)


def _values(raw: Any) -> list[Any]:
    return raw if isinstance(raw, list) else [raw]


def _validate_user_data(user_data: dict[str, Any]) -> None:
    for key in HASHED_KEYS:
        for value in _values(user_data.get(key, [])):
            if not isinstance(value, str) or not SHA256_HEX.match(value):
                raise _invalid(
                    SUB_BAD_VALUE,
                    "Invalid Hashed Parameter",
                    f"user_data.{key} must be a SHA-256 hash (64 lowercase hex characters) of "
                    "the normalised value; plain values are not accepted.",
                )
    for key in PLAIN_KEYS:
        value = user_data.get(key)
        if value is not None and (not isinstance(value, str) or SHA256_HEX.match(value)):
            raise _invalid(
                SUB_BAD_VALUE,
                "Parameter Must Not Be Hashed",
                f"user_data.{key} must be sent as is, never hashed.",
            )
    ip = user_data.get("client_ip_address")
    if ip is not None:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _invalid(
                SUB_BAD_VALUE,
                "Invalid IP Address",
                "client_ip_address is not an IPv4/IPv6 address.",
            ) from None
    checks = (
        ("fbc", FBC, "fb.<subdomainIndex>.<creation time ms>.<fbclid>"),
        ("fbp", FBP, "fb.<subdomainIndex>.<creation time ms>.<random number>"),
        ("lead_id", LEAD_ID, "a 15 or 16 digit Meta lead ID"),
    )
    for key, pattern, shape in checks:
        value = user_data.get(key)
        if value is not None and not pattern.match(value):
            raise _invalid(
                SUB_BAD_VALUE,
                f"Invalid {key} Parameter",
                f"user_data.{key} must look like {shape}.",
            )
    usable = MATCH_KEYS & {k for k, v in user_data.items() if v not in (None, "", [])}
    if not usable and not (
        user_data.get("client_ip_address") and user_data.get("client_user_agent")
    ):
        raise _invalid(
            SUB_NO_USER_DATA,
            "Missing Customer Information",
            "user_data must contain at least one customer information parameter (em, ph, "
            "external_id, fbc, fbp, lead_id, or client_ip_address with client_user_agent).",
        )


# -- helpers -----------------------------------------------------------------------------------
def _time_range(raw: str | None) -> tuple[date, date]:
    if not raw:
        raise GraphError("(#100) time_range or date_preset is required by the sandbox", code=100)
    try:
        parsed = json.loads(raw)
        since, until = date.fromisoformat(parsed["since"]), date.fromisoformat(parsed["until"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GraphError(f"(#100) param time_range is invalid: {exc}", code=100) from exc
    if since > until:
        raise GraphError("(#100) time_range: since must not be after until", code=100)
    return since, until


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(raw: str | None) -> int:
    if not raw:
        return 0
    text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    if not text.startswith("offset:"):
        raise ValueError("unknown cursor")
    return int(text.removeprefix("offset:"))


def _regain_minutes(seconds: float) -> int:
    """Graph's ``estimated_time_to_regain_access``: whole minutes, at least one."""
    return max(1, -(-int(seconds) // 60))


def _trace_id() -> str:
    return "A" + secrets.token_urlsafe(16)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)
