"""GA4 destination: won deals as ``purchase`` events through the Measurement Protocol.

GA4 takes one client per request and never says no (``/mp/collect`` answers 2xx to anything),
so the limits are checked here before sending, ``validate`` mode asks the validation server
first, and throughput comes from many small requests in parallel over keep-alive connections.
Resends are harmless: GA4 keeps one ``purchase`` per ``transaction_id`` (the deal's dedup key).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import requests

from platforms.base import (
    CONVERSION,
    Accepted,
    Destination,
    ErasureSubject,
    Hashing,
    Outcome,
    PlannedConversion,
    Prepared,
    Rejected,
    Retry,
    Skip,
    Validation,
    Wait,
)
from platforms.ga4.client import measurement_session
from platforms.ga4.limits import (
    BACKDATE_LIMIT,
    MAX_EVENTS,
    MAX_NAME,
    MAX_PARAM_VALUE,
    MAX_PARAMS,
    MAX_USER_ID,
    NAME_PATTERN,
    RESERVED_EVENTS,
    RESERVED_PARAMS,
    RESERVED_PREFIXES,
)
from platforms.ga4.settings import GA4Settings
from platforms.google_hashing import GOOGLE_HASHING

COLLECT_PATH = "/mp/collect"
DEBUG_PATH = "/debug/mp/collect"
#: GA4 accepts ``timestamp_micros`` up to 72 hours back; the margin covers the time between
#: deciding and the request reaching Google, because a stale timestamp is dropped silently.
BACKDATE_MARGIN = timedelta(minutes=5)
MAX_REQUEST_BYTES = 120_000  # GA4 drops bodies of 130 kB or more; keep room to spare
#: Any value works; GA4 needs one with ``session_id`` to count the event in its session.
ENGAGEMENT_TIME_MSEC = 100
EVENT_INDEX = re.compile(r"Event at index: \[(\d+)\]|events\[(\d+)\]")

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class GA4Event:
    """One conversion as GA4 takes it.

    ``request`` holds the request-level fields (``client_id``, ``user_id``, ``consent``);
    conversions with equal ``request`` may share one request. ``notes`` say what was changed
    on the way (an omitted timestamp) and end up in the outcome's diagnostics.
    """

    request: dict[str, Any]
    event: dict[str, Any]
    notes: tuple[str, ...] = ()

    @property
    def client_id(self) -> str:
        """The GA client ID: GA4 takes one per request."""
        return str(self.request["client_id"])

    @property
    def request_key(self) -> str:
        """Equal for conversions whose request-level fields are identical."""
        return json.dumps(self.request, sort_keys=True)


@dataclass
class _Request:
    """Conversions (by position in the batch) that travel in one Measurement Protocol call."""

    indices: list[int] = field(default_factory=list)
    size: int = 0


class GA4Destination(Destination[GA4Event]):
    """Send purchases to GA4, one client per request, many requests in parallel.

    ``send`` takes up to ``max_batch`` conversions of any clients and fans them out itself, so
    ``groups_requests`` stays off for the delivery loop.
    """

    name: ClassVar[str] = "ga4"
    max_batch: ClassVar[int] = 500
    groups_requests: ClassVar[bool] = False
    units: ClassVar[Literal["clicks", "touches"]] = "touches"
    touch_ids: ClassVar[tuple[str, ...]] = ("ga_client_id",)
    browser_ids: ClassVar[tuple[str, ...]] = ("ga_client_id", "ga_session_id")
    identified_by: ClassVar[tuple[str, ...]] = ("ga_client_id",)
    kinds: ClassVar[frozenset[str]] = frozenset({CONVERSION})
    #: Rows keep the person's hashes in Google's form, ready for the Measurement Protocol's
    #: ``user_provided_data`` (not sent yet: it needs the property's user-provided-data
    #: collection switched on).
    hashing: ClassVar[Hashing | None] = GOOGLE_HASHING

    @classmethod
    def too_old(
        cls,
        settings: GA4Settings,
        kind: str,
        *,
        event_time: datetime,
        click_time: datetime | None,
        now: datetime,
    ) -> str | None:
        """GA4 takes late events (dated at receipt) unless ``late_events`` is ``skip``."""
        if now - event_time > BACKDATE_LIMIT and settings.late_events == "skip":
            return "older than GA4's 72-hour backdating limit and platforms.ga4.late_events is skip"
        return None

    @classmethod
    def horizon(cls, settings: GA4Settings, now: datetime) -> str:
        """Everything, or within 72 hours when late events are skipped."""
        cutoff = now - BACKDATE_LIMIT
        if settings.late_events == "skip":
            return (
                f"deals closed after {cutoff:%Y-%m-%d %H:%M} UTC only: GA4 "
                "backdates events at most 72 hours and platforms.ga4.late_events is skip"
            )
        return (
            f"all deals; those closed before {cutoff:%Y-%m-%d %H:%M} UTC are "
            "older than GA4's 72-hour backdating limit, so they are sent without a "
            "timestamp and count on the day they are uploaded"
        )

    @classmethod
    def erase_requests(cls, settings: GA4Settings, subject: ErasureSubject) -> list[dict[str, Any]]:
        """The person's client IDs for GA4's User Deletion API, when ``user_deletion`` is on."""
        from platforms.ga4.erase import erase_requests

        return erase_requests(settings, subject)

    @classmethod
    def erase(cls, settings: GA4Settings, item: dict[str, Any], *, timeout: float = 30.0) -> None:
        """One ``properties.submitUserDeletion`` call (see ``platforms.ga4.erase``)."""
        from platforms.ga4.erase import submit_user_deletion

        submit_user_deletion(settings, item, timeout=timeout)

    def __init__(
        self,
        settings: GA4Settings,
        *,
        dry_run: bool = False,
        timeout: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(settings, dry_run=dry_run, timeout=timeout)
        self.settings: GA4Settings = settings
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self._session: requests.Session | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._setup_lock = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        """One keep-alive session and one thread pool, both sized to ``concurrency``."""
        with self._setup_lock:
            if self._session is None:
                self._session = measurement_session(self.settings.concurrency)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="ga4")

    def close(self) -> None:
        """Finish in-flight requests and close the connections."""
        with self._setup_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
            if self._session is not None:
                self._session.close()
                self._session = None

    def group_key(self, prepared: Prepared[GA4Event]) -> str:
        """The GA client ID (informational: ``send`` does the grouping)."""
        return prepared.payload.client_id

    # -- prepare -------------------------------------------------------------------------------
    def prepare(
        self, conversion: PlannedConversion, now: datetime
    ) -> Prepared[GA4Event] | Skip | Wait:
        """Build the purchase event, or Skip with why GA4 could never take it.

        Timestamps: GA4 backdates an event at most 72 hours; sending an older one with its
        real time would be dropped silently. ``late_events`` decides what happens instead:
        ``send_at_receipt`` (default) sends it without ``timestamp_micros``, so the revenue
        reaches GA4 dated at receipt and the payload's notes (and the outcome's diagnostics)
        say so; ``skip`` skips it with ``late_event``, for properties whose daily figures must
        not gain revenue on the upload day.
        """
        if conversion.kind != CONVERSION:
            return Skip(
                "unsupported_adjustment",
                f"GA4 has no API to adjust or retract a sent event ({conversion.kind} of "
                f"{conversion.adjusts_key or conversion.dedup_key}); the original purchase "
                "stays in GA4 as sent",
            )
        ids = conversion.identifiers
        if not ids.ga_client_id:
            return Skip(
                "missing_client_id",
                "no GA client ID: the visitor was never seen with a _ga cookie",
            )
        name = str(conversion.options.get("event_name") or self.settings.event_name)
        params: dict[str, Any] = dict(conversion.options.get("params") or {})
        params.update(
            currency=conversion.currency.upper(),
            value=float(conversion.value),
            transaction_id=conversion.dedup_key,
        )
        if self.settings.late_events == "skip" and _late(conversion.event_time, now):
            return Skip("late_event", _late_reason(conversion.event_time))
        if ids.ga_session_id:
            params["session_id"] = ids.ga_session_id
            params["engagement_time_msec"] = ENGAGEMENT_TIME_MSEC
        if problem := _invalid(name, params):
            return problem
        event: dict[str, Any] = {"name": name, "params": params}
        notes: list[str] = []
        if _backdatable(conversion.event_time, now):
            event["timestamp_micros"] = _micros(conversion.event_time)
        else:
            notes.append(_timestamp_note(conversion.event_time))
        request: dict[str, Any] = {"client_id": ids.ga_client_id}
        if self.settings.send_user_id and ids.external_id:
            if len(ids.external_id) <= MAX_USER_ID:
                request["user_id"] = ids.external_id
            else:
                notes.append(f"user_id omitted: longer than {MAX_USER_ID} characters")
        consent = _consent(ids.consent_ad_user_data, ids.consent_ad_personalization)
        if consent:
            request["consent"] = consent
        return Prepared(conversion, GA4Event(request, event, tuple(notes)))

    # -- send ----------------------------------------------------------------------------------
    def send(self, batch: list[Prepared[GA4Event]]) -> list[Outcome]:
        """One request per client (≤ 25 events each), sent in parallel; outcomes in order."""
        return self._fan_out(batch, validate_only=self.dry_run)

    def validate(self, batch: list[Prepared[GA4Event]]) -> list[Validation]:
        """The same requests to ``/debug/mp/collect`` only: its validationMessages decide."""
        return list(self._fan_out(batch, validate_only=True))

    def _fan_out(self, batch: list[Prepared[GA4Event]], *, validate_only: bool) -> list[Outcome]:
        self.setup()
        assert self._pool is not None
        outcomes: list[Outcome | None] = [None] * len(batch)
        planned = [
            (
                request.indices,
                self._pool.submit(
                    self._deliver, [batch[i] for i in request.indices], validate_only
                ),
            )
            for request in _plan_requests(batch)
        ]
        for indices, future in planned:
            try:
                results = future.result()
            except Exception as exc:  # a bug in one request must not lose the others' outcomes
                results = [Retry("UNKNOWN_OUTCOME", f"{type(exc).__name__}: {exc}")] * len(indices)
            for index, outcome in zip(indices, results, strict=True):
                outcomes[index] = outcome
        return [o if o is not None else Retry("UNKNOWN_OUTCOME", "not sent") for o in outcomes]

    def _deliver(self, items: list[Prepared[GA4Event]], validate_only: bool) -> list[Outcome]:
        """One client's request: validate if asked, then collect (never when validate-only).

        With ``late_events: skip``, an event that aged out of the 72-hour window between
        prepare and send is not sent undated: it is rejected as ``late_event``.
        """
        now = self.clock()
        if self.settings.late_events == "skip":
            late = {i for i, item in enumerate(items) if _aged_out(item.payload, now)}
            if late:
                kept = [item for i, item in enumerate(items) if i not in late]
                sent = iter(self._deliver_at(kept, now, validate_only) if kept else [])
                return [
                    Rejected("late_event", _late_reason(_event_time(items[i].payload)))
                    if i in late
                    else next(sent)
                    for i in range(len(items))
                ]
        return self._deliver_at(items, now, validate_only)

    def _deliver_at(
        self, items: list[Prepared[GA4Event]], now: datetime, validate_only: bool
    ) -> list[Outcome]:
        payloads = [_refresh_timestamp(item.payload, now) for item in items]
        outcomes: list[Outcome | None] = [None] * len(items)
        if self.settings.validate_events or validate_only:
            answer, failure = self._post(DEBUG_PATH, _body(payloads))
            if failure is not None:
                return [failure] * len(items)
            for index, rejection in _rejections(answer, len(items)).items():
                outcomes[index] = rejection
            if validate_only:
                return [
                    o or Accepted(diagnostics={"dry_run": True, "validated": True, **_notes(p)})
                    for o, p in zip(outcomes, payloads, strict=True)
                ]
        pending = [i for i, outcome in enumerate(outcomes) if outcome is None]
        if not pending:
            return [o for o in outcomes if o is not None]
        _, failure = self._post(COLLECT_PATH, _body([payloads[i] for i in pending]))
        for i in pending:
            outcomes[i] = failure or Accepted(
                ref=str(payloads[i].event["params"]["transaction_id"]),
                diagnostics=_notes(payloads[i]) or None,
            )
        return [o for o in outcomes if o is not None]

    def _post(self, path: str, body: dict[str, Any]) -> tuple[Any, Outcome | None]:
        """POST one measurement; the parsed answer, or the outcome of a failed request."""
        assert self._session is not None
        base = self.settings.measurement_protocol_url.rstrip("/")
        secret = self.settings.api_secret.get_secret_value() if self.settings.api_secret else ""
        try:
            response = self._session.post(
                base + path,
                params={"measurement_id": self.settings.measurement_id, "api_secret": secret},
                data=json.dumps(body, separators=(",", ":")),
                timeout=(min(10.0, self.timeout), self.timeout),
            )
        except requests.Timeout:
            return None, Retry("TIMEOUT", f"GA4 did not answer within {self.timeout:g}s")
        except requests.RequestException as exc:
            # The message would carry the URL, api_secret included: name the host only.
            host = urlsplit(base).netloc
            return None, Retry("CONNECTION_ERROR", f"{type(exc).__name__} talking to {host}")
        status = response.status_code
        if status == 429 or status >= 500:
            after = response.headers.get("Retry-After")
            seconds = float(after) if after and after.replace(".", "", 1).isdigit() else None
            return None, Retry(f"HTTP_{status}", f"GA4 answered {status}", seconds)
        if status >= 400:
            return None, Rejected(f"HTTP_{status}", f"GA4 answered {status}: {response.text[:200]}")
        if path != DEBUG_PATH:
            return None, None
        try:
            return response.json(), None
        except ValueError:
            return None, Retry("INVALID_RESPONSE", "the validation server answered non-JSON")


def _plan_requests(batch: list[Prepared[GA4Event]]) -> Iterator[_Request]:
    """Group by request-level fields (one client each), ≤ 25 events and < 120 kB per request."""
    open_requests: dict[str, _Request] = {}
    for index, item in enumerate(batch):
        key = item.payload.request_key
        size = len(json.dumps(item.payload.event, separators=(",", ":"))) + 1
        current = open_requests.get(key)
        full = current is not None and (
            len(current.indices) >= MAX_EVENTS or current.size + size > MAX_REQUEST_BYTES
        )
        if current is not None and full:
            yield current
            current = None
        if current is None:
            current = open_requests[key] = _Request(size=len(key))
        current.indices.append(index)
        current.size += size
    yield from open_requests.values()


def _body(payloads: list[GA4Event]) -> dict[str, Any]:
    return {**payloads[0].request, "events": [p.event for p in payloads]}


def _rejections(answer: Any, count: int) -> dict[int, Rejected]:
    """Validation messages by event position; a message without an index hits every event."""
    messages = answer.get("validationMessages", []) if isinstance(answer, dict) else []
    found: dict[int, list[dict[str, str]]] = {}
    for message in messages:
        text = f"{message.get('fieldPath', '')} {message.get('description', '')}"
        match = EVENT_INDEX.search(text)
        targets = [int(match.group(1) or match.group(2))] if match else range(count)
        for target in targets:
            if 0 <= target < count:
                found.setdefault(target, []).append(message)
    return {
        index: Rejected(
            code=found_messages[0].get("validationCode", "VALUE_INVALID"),
            message="; ".join(m.get("description", "") for m in found_messages),
        )
        for index, found_messages in found.items()
    }


def _invalid(name: str, params: dict[str, Any]) -> Skip | None:
    """GA4's own validation code when the event breaks a documented limit."""
    if len(name) > MAX_NAME or not NAME_PATTERN.match(name):
        return Skip(
            "NAME_INVALID",
            f"event name {name!r} must be at most {MAX_NAME} letters, digits or underscores, "
            "starting with a letter",
        )
    if name in RESERVED_EVENTS or name.startswith(RESERVED_PREFIXES):
        return Skip("NAME_RESERVED", f"event name {name!r} is reserved by GA4")
    if len(params) > MAX_PARAMS:
        return Skip("EXCEEDED_MAX_ENTITIES", f"{len(params)} params; GA4 takes {MAX_PARAMS}")
    for key, value in params.items():
        if len(key) > MAX_NAME or not NAME_PATTERN.match(key):
            return Skip("NAME_INVALID", f"param name {key!r} is not a valid GA4 name")
        if key.startswith(RESERVED_PREFIXES) or key in RESERVED_PARAMS:
            return Skip("NAME_RESERVED", f"param name {key!r} is reserved by GA4")
        if isinstance(value, str) and len(value) > MAX_PARAM_VALUE:
            return Skip(
                "VALUE_OUT_OF_BOUNDS",
                f"param {key!r} is {len(value)} characters; GA4 takes {MAX_PARAM_VALUE}",
            )
    currency = params["currency"]
    if len(currency) != 3 or not currency.isalpha():
        return Skip("VALUE_INVALID", f"currency {currency!r} is not an ISO 4217 code")
    return None


def _backdatable(event_time: datetime, now: datetime) -> bool:
    age = now - event_time
    return timedelta(0) <= age <= BACKDATE_LIMIT - BACKDATE_MARGIN


def _late(event_time: datetime, now: datetime) -> bool:
    """Too old for ``timestamp_micros`` (a future time is not late: it is sent undated)."""
    return now - event_time > BACKDATE_LIMIT - BACKDATE_MARGIN


def _late_reason(event_time: datetime) -> str:
    return (
        f"event time {event_time.isoformat()} is outside GA4's 72-hour backdating window and "
        "platforms.ga4.late_events is skip (send_at_receipt would send it dated at receipt)"
    )


def _micros(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _timestamp_note(event_time: datetime) -> str:
    return (
        f"timestamp omitted: event time {event_time.isoformat()} is outside GA4's 72-hour "
        "backdating window, so GA4 dates it at receipt"
    )


def _event_time(payload: GA4Event) -> datetime:
    """The prepared ``timestamp_micros`` as a time (the payload must carry one)."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(
        microseconds=payload.event["timestamp_micros"]
    )


def _aged_out(payload: GA4Event, now: datetime) -> bool:
    """Prepared with a timestamp that is now too old for GA4."""
    return "timestamp_micros" in payload.event and _late(_event_time(payload), now)


def _refresh_timestamp(payload: GA4Event, now: datetime) -> GA4Event:
    """Drop a timestamp that aged out of the window between prepare and send."""
    if "timestamp_micros" not in payload.event:
        return payload
    event_time = _event_time(payload)
    if _backdatable(event_time, now):
        return payload
    event = {k: v for k, v in payload.event.items() if k != "timestamp_micros"}
    return replace(payload, event=event, notes=(*payload.notes, _timestamp_note(event_time)))


def _notes(payload: GA4Event) -> dict[str, Any]:
    return {"notes": list(payload.notes)} if payload.notes else {}


def _consent(ad_user_data: bool | None, ad_personalization: bool | None) -> dict[str, str]:
    out = {}
    if ad_user_data is not None:
        out["ad_user_data"] = "GRANTED" if ad_user_data else "DENIED"
    if ad_personalization is not None:
        out["ad_personalization"] = "GRANTED" if ad_personalization else "DENIED"
    return out
