"""The destination contract every ad platform implements, and the values it exchanges.

``prepare`` is pure: it turns one planned conversion into the platform's payload or a
``Skip`` with a reason (too old, missing identifier, consent denied...). ``send`` makes one API
call of at most ``max_batch`` items and answers one ``Outcome`` per item, because partial
failure is the normal case.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

Payload = TypeVar("Payload")

CONVERSION, RESTATEMENT, RETRACTION = "conversion", "restatement", "retraction"


@dataclass(frozen=True)
class ClickId:
    """One ad click, named as the platform that made it names it.

    ``kind`` is the URL parameter (``gclid``, ``msclkid``, ``li_fat_id``, ``ttclid``...),
    ``time`` when we saw it (None for a click only the CRM knows, of unknown time).
    """

    kind: str
    value: str
    time: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """Storable form."""
        out: dict[str, Any] = {"kind": self.kind, "value": self.value}
        if self.time is not None:
            out["time"] = self.time.isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClickId:
        """Inverse of :meth:`to_json`."""
        time = data.get("time")
        return cls(
            str(data["kind"]),
            str(data["value"]),
            datetime.fromisoformat(time) if isinstance(time, str) else None,
        )


@dataclass(frozen=True)
class Hashing:
    """How one platform normalises and hashes a person's email and phone before they leave.

    ``scheme`` names the normalisation (destinations declaring the same scheme share the
    hashes, computed once per page); ``email``/``phone`` answer the SHA-256 hex or None when
    the value normalises to nothing (``phone`` gets the default region for national forms).
    """

    scheme: str
    email: Callable[[str], str | None]
    phone: Callable[[str, str], str | None]
    max_emails: int = 3
    max_phones: int = 2


class BrowserEvidence(Protocol):
    """What a destination's own identifier rules may read of one journey (``derived_ids``)."""

    def cookies(self, name: str) -> list[str]:
        """Values of browser ID ``name`` the journey's page views carried, oldest first."""

    def clicks(self, kind: str) -> list[tuple[str, datetime | None]]:
        """The journey's clicks of ``kind`` as (value, time), oldest first."""


@dataclass(frozen=True)
class Identifiers:
    """Everything known about the person and click behind a conversion.

    Hashes are SHA-256 hex of the normalised value (see ``connector.identity``); plain emails
    and phones never reach an adapter.
    """

    #: The click the conversion is tied to, of one of the destination's ``click_kinds``.
    click: ClickId | None = None
    gclid: str | None = None
    gbraid: str | None = None
    wbraid: str | None = None
    click_time: datetime | None = None
    fbclid: str | None = None
    fbc: str | None = None
    fbp: str | None = None
    ga_client_id: str | None = None
    ga_session_id: str | None = None
    email_sha256: tuple[str, ...] = ()
    phone_sha256: tuple[str, ...] = ()
    external_id: str | None = None
    crm_lead_id: str | None = None
    user_agent: str | None = None
    client_ip: str | None = None
    page_url: str | None = None
    consent_ad_user_data: bool | None = None
    consent_ad_personalization: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """Storable form (the outbox keeps it as JSON).

        A click of a kind with its own field is kept in that field (and ``click_time``), the
        form older rows have; any other kind as ``click``.
        """
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if value is None or value == ():
                continue
            if isinstance(value, ClickId):
                if getattr(self, value.kind, None) != value.value:  # else kept in legacy form
                    out[key] = value.to_json()
                continue
            out[key] = (
                value.isoformat()
                if isinstance(value, datetime)
                else (list(value) if isinstance(value, tuple) else value)
            )
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Identifiers:
        """Inverse of :meth:`to_json`; unknown keys are ignored for forward compatibility.

        A click is stored either as ``click`` (any kind) or, for the kinds that have a field
        of their own here (``gclid``, ``gbraid``, ``wbraid``, ``fbclid``), under that field
        with ``click_time``, the form rows planned before ``click`` existed carry. Either
        form reads back with both set, so an adapter may read ``click`` or the field.
        """
        data = dict(data or {})
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("click"), dict):
            known["click"] = ClickId.from_json(known["click"])
        if isinstance(known.get("click_time"), str):
            known["click_time"] = datetime.fromisoformat(known["click_time"])
        for key in ("email_sha256", "phone_sha256"):
            if key in known:
                known[key] = tuple(known[key])
        click = known.get("click")
        if isinstance(click, ClickId):
            if click.kind in LEGACY_CLICK_FIELDS:
                known.setdefault(click.kind, click.value)
                if click.time is not None:
                    known.setdefault("click_time", click.time)
        else:
            kind = next((k for k in LEGACY_CLICK_FIELDS if known.get(k)), None)
            if kind is not None:
                known["click"] = ClickId(kind, str(known[kind]), known.get("click_time"))
        return cls(**known)


#: Click kinds with an ``Identifiers`` field of their own, from before ``Identifiers.click``.
LEGACY_CLICK_FIELDS = ("gclid", "gbraid", "wbraid", "fbclid")


@dataclass(frozen=True)
class ErasureSubject:
    """What identifies an erased person at the platforms: only values closedloop saw or sent.

    ``browser_ids`` maps an ``Identifiers`` browser-ID field (``ga_client_id``, ``fbp``...) to
    the person's values; ``external_ids`` are the ``external_id`` values their conversions
    carried (GA4's ``user_id`` where ``send_user_id`` is on).
    """

    browser_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)
    external_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlannedConversion:
    """One outbox row as an adapter sees it."""

    id: int
    deal_id: str
    destination: str
    kind: str  # conversion | restatement | retraction
    event_name: str
    dedup_key: str
    value: Decimal
    currency: str
    event_time: datetime
    identifiers: Identifiers = field(default_factory=Identifiers)
    attempts: int = 0
    #: For restatements/retractions: the dedup key of the conversion being adjusted.
    adjusts_key: str | None = None
    #: Per-event platform options from the mapping profile (e.g. ``conversion_action_id``).
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """``prepare`` declined: the conversion can never be sent to this platform, with why."""

    code: str
    reason: str


@dataclass(frozen=True)
class Wait:
    """``prepare`` declined for now: the conversion becomes sendable at ``until``.

    Used for Google's 6-hour minimum click age: sending early fails with TOO_RECENT_EVENT.
    """

    until: datetime
    reason: str


@dataclass(frozen=True)
class Prepared(Generic[Payload]):
    """A conversion and the payload ``prepare`` built for it."""

    conversion: PlannedConversion
    payload: Payload


@dataclass(frozen=True)
class Accepted:
    """The platform took the item; ``ref`` is its reference (request id, event id, ...).

    ``code``/``message``: a warning kept on the delivered row (``reason_code``/``reason``), for
    a verdict that is not clean, e.g. a request Google processed only in part without saying
    which events failed.
    """

    ref: str | None = None
    diagnostics: dict[str, Any] | None = None
    code: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Confirming:
    """Handed over: the platform took the item for processing and gives its verdict later.

    ``ref`` is the platform's reference to ask about (Data Manager's ``request_id``; items of
    one request share it, so one look-up answers them all). The row waits in status
    ``confirming`` until :meth:`Destination.confirm` answers a final outcome for ``ref``;
    ``check_after`` (seconds) overrides the first check of :meth:`Destination.confirmation`.
    As an answer of ``confirm`` it means "still processing".
    """

    ref: str
    diagnostics: dict[str, Any] | None = None
    check_after: float | None = None


@dataclass(frozen=True)
class ConfirmSchedule:
    """When the connector asks a platform for its verdict on a handed-over item.

    First ``first_seconds`` after the hand-over, then each check waits as long as the item has
    been waiting (so the wait doubles), at most ``max_interval_seconds``; no check is later than
    ``give_up_seconds`` after the hand-over, and a verdict still missing then ends the row as a
    dead letter with ``CONFIRMATION_TIMEOUT`` (never silently accepted).
    """

    first_seconds: float
    give_up_seconds: float
    max_interval_seconds: float = 6 * 3600.0


@dataclass(frozen=True)
class Retry:
    """Transient failure: send again no earlier than ``after_seconds`` from now."""

    code: str
    message: str
    after_seconds: float | None = None


@dataclass(frozen=True)
class Rejected:
    """Permanent failure with the platform's own code and message; never retried."""

    code: str
    message: str


@dataclass(frozen=True)
class NotValidated:
    """Dry run only: the platform offers no way to check the item without really sending it."""

    reason: str


Outcome = Accepted | Retry | Rejected | Confirming
#: What ``Destination.validate`` answers per item.
Validation = Accepted | Retry | Rejected | NotValidated
#: What ``Destination.confirm`` answers per reference: final (Accepted, Rejected), still
#: processing (Confirming) or unknown for now (Retry: the look-up failed).
Verdict = Accepted | Rejected | Confirming | Retry


class Destination(ABC, Generic[Payload]):
    """Base class of every ad-platform adapter.

    Besides ``prepare``/``send``, a destination *declares* what the connector must know to
    plan for it: which clicks and browser IDs it can use, how it hashes people, what makes a
    conversion identifiable, how old a row it still takes, which row kinds it takes and how
    many per request. ``connector/`` reads only these declarations and never names a
    platform. The defaults refuse: a destination that declares nothing is planned nothing,
    and :meth:`undeclared` says why (it never borrows another platform's rules).
    """

    name: ClassVar[str]
    #: Most items one request may carry (the platform's documented maximum). 0: undeclared.
    max_batch: ClassVar[int] = 0
    #: Click IDs it attributes to, by URL parameter (``("gclid", "gbraid", "wbraid")``).
    click_kinds: ClassVar[tuple[str, ...]] = ()
    #: What one conversion is tied to in split mode: a click of ``click_kinds``, or a touch
    #: carrying every field in ``touch_ids`` (GA4: the browser's client ID).
    units: ClassVar[Literal["clicks", "touches"]] = "clicks"
    touch_ids: ClassVar[tuple[str, ...]] = ()
    #: Browser IDs it receives from the converting touch or its visitor (``fbp``,
    #: ``ga_client_id``, ``ga_session_id``).
    browser_ids: ClassVar[tuple[str, ...]] = ()
    #: Whether it receives the converting visit's user agent, IP and page URL (consent
    #: permitting).
    browser_context: ClassVar[bool] = False
    #: How it hashes emails and phones; None: it receives none.
    hashing: ClassVar[Hashing | None] = None
    #: Identifier fields (``Identifiers`` field names, or a click kind) of which at least one
    #: must be set for the platform to match the conversion to anyone. Empty: undeclared.
    identified_by: ClassVar[tuple[str, ...]] = ()
    #: Row kinds it takes: CONVERSION, and RESTATEMENT/RETRACTION where it can adjust.
    kinds: ClassVar[frozenset[str]] = frozenset()
    #: One request may only carry items whose ``group_key`` is equal (GA4: one client per
    #: request). ``None`` means any items may share a request.
    groups_requests: ClassVar[bool] = False

    def __init__(self, settings: Any, *, dry_run: bool = False, timeout: float = 30.0) -> None:
        self.settings = settings
        self.dry_run = dry_run
        self.timeout = timeout

    @classmethod
    def too_old(
        cls,
        settings: Any,
        kind: str,
        *,
        event_time: datetime,
        click_time: datetime | None,
        now: datetime,
    ) -> str | None:
        """Why the platform would refuse a row of ``kind`` this old, or None if it fits.

        ``settings`` is this platform's own settings section. Undeclared: every row is too
        old, so nothing is planned for a destination that has not said what it accepts.
        """
        return f"{cls.name} declares no age limits, so nothing is planned for it"

    @classmethod
    def derived_ids(cls, evidence: BrowserEvidence, click: ClickId | None) -> list[tuple[str, Any]]:
        """Identifier fields the platform computes from the journey by its own rule.

        ``click`` is the unit's click (one of ``click_kinds``), if any. Meta builds its
        ``fbc`` from the cookies and fbclid clicks seen; most platforms derive nothing.
        """
        return []

    @classmethod
    def horizon(cls, settings: Any, now: datetime) -> str:
        """In words, what a replay can still deliver to it now (``backfill`` prints this)."""
        return "nothing: it declares no age limits"

    @classmethod
    def undeclared(cls) -> list[str]:
        """The declarations this destination is missing; planning refuses it while any are."""
        missing: list[str] = []
        if cls.max_batch <= 0:
            missing.append("max_batch")
        if not cls.identified_by:
            missing.append("identified_by")
        if CONVERSION not in cls.kinds:
            missing.append("kinds")
        if cls.units == "touches" and not cls.touch_ids:
            missing.append("touch_ids")
        if cls.too_old.__func__ is Destination.too_old.__func__:  # type: ignore[attr-defined]
            missing.append("too_old")
        return missing

    @classmethod
    def erase_requests(cls, settings: Any, subject: ErasureSubject) -> list[dict[str, Any]]:
        """What to ask the platform to erase for a privacy request, one item per API call.

        Items are JSON-able and stored until :meth:`erase` succeeded for them. Default: none,
        for platforms that offer no deletion API or where it is not switched on; the connector
        then reports the platform as not asked.
        """
        return []

    @classmethod
    def erase(cls, settings: Any, item: dict[str, Any], *, timeout: float = 30.0) -> None:
        """Ask the platform to erase one item of :meth:`erase_requests`; raise on failure.

        ``RetryablePlatformError`` (or any exception) is retried later; a
        ``PermanentPlatformError`` is recorded as failed.
        """
        raise NotImplementedError(f"{cls.name} declares no erase call")

    def setup(self) -> None:
        """Build SDK clients; called once before the first send."""

    def close(self) -> None:
        """Release connections."""

    def platform_key(self, prepared: Prepared[Payload]) -> str:
        """The key the platform itself holds this item under, as it would report it back.

        Most platforms receive our dedup key (order ID, event ID, transaction ID) and dedup by
        it; one that never receives it (Microsoft: click, goal and time) answers its own
        identity, so what the platform holds can be reconciled with the outbox.
        """
        return prepared.conversion.dedup_key

    def group_key(self, prepared: Prepared[Payload]) -> str:
        """Items with different keys never share a request (see ``groups_requests``)."""
        return ""

    def follow_up_requests(self, group_key: str) -> int:
        """Calls one batch of this request group needs after its send to learn the outcome.

        0 where the send's answer carries every item's outcome. Benchmarks add it to the
        minimum number of requests; a platform whose API reports processing failures only in
        a later look-up (one per request) declares that look-up here.
        """
        return 0

    @abstractmethod
    def prepare(
        self, conversion: PlannedConversion, now: datetime
    ) -> Prepared[Payload] | Skip | Wait:
        """Validate against the platform's limits and build the payload. Pure."""

    @abstractmethod
    def send(self, batch: list[Prepared[Payload]]) -> list[Outcome]:
        """One API call for at most ``max_batch`` items; one outcome per item, in order.

        Raise ``RetryablePlatformError`` / ``PermanentPlatformError`` for failures that hit the
        whole request (auth, allowlist, rate limit); the caller applies them to every item.
        """

    def confirmation(self) -> ConfirmSchedule | None:
        """The platform's schedule for final verdicts, if ``send`` may answer ``Confirming``.

        None (the default): the platform answers final outcomes in ``send``, and a
        ``Confirming`` it returned anyway is taken as accepted. A platform that processes
        asynchronously (Data Manager) declares when to ask and implements :meth:`confirm`.
        """
        return None

    def confirm(self, refs: list[str]) -> dict[str, Verdict]:
        """The platform's verdict for each reference a ``Confirming`` outcome carried.

        One look-up per reference at most (the connector groups rows by reference). A
        reference missing from the answer stays confirming. Raise ``PermanentPlatformError``
        for failures that hit every look-up (auth): the destination pauses for the pass.
        """
        raise NotImplementedError(f"{self.name} declares no confirm call")

    def validate(self, batch: list[Prepared[Payload]]) -> list[Validation]:
        """Ask the platform whether it would accept each item, without it counting anything.

        A dry run calls this instead of ``send``, on exactly the payloads ``send`` would get.
        Platforms with a validate-only mode override it (same errors as ``send``); the default
        posts nothing and says so, because a dry run must never deliver for real.
        """
        return [NotValidated(f"{self.name} has no validate-only mode; nothing was sent")] * len(
            batch
        )
