"""The destination contract every ad platform implements, and the values it exchanges.

``prepare`` is pure: it turns one planned conversion into the platform's payload or a
``Skip`` with a reason (too old, missing identifier, consent denied...). ``send`` makes one API
call of at most ``max_batch`` items and answers one ``Outcome`` per item, because partial
failure is the normal case.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Generic, TypeVar

Payload = TypeVar("Payload")

CONVERSION, RESTATEMENT, RETRACTION = "conversion", "restatement", "retraction"


@dataclass(frozen=True)
class Identifiers:
    """Everything known about the person and click behind a conversion.

    Hashes are SHA-256 hex of the normalised value (see ``connector.identity``); plain emails
    and phones never reach an adapter.
    """

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
        """Storable form (the outbox keeps it as JSON)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if value is None or value == ():
                continue
            out[key] = (
                value.isoformat()
                if isinstance(value, datetime)
                else (list(value) if isinstance(value, tuple) else value)
            )
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Identifiers:
        """Inverse of :meth:`to_json`; unknown keys are ignored for forward compatibility."""
        data = dict(data or {})
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if isinstance(known.get("click_time"), str):
            known["click_time"] = datetime.fromisoformat(known["click_time"])
        for key in ("email_sha256", "phone_sha256"):
            if key in known:
                known[key] = tuple(known[key])
        return cls(**known)


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
    """The platform took the item; ``ref`` is its reference (request id, event id, ...)."""

    ref: str | None = None
    diagnostics: dict[str, Any] | None = None


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


Outcome = Accepted | Retry | Rejected
#: What ``Destination.validate`` answers per item.
Validation = Accepted | Retry | Rejected | NotValidated


class Destination(ABC, Generic[Payload]):
    """Base class of every ad-platform adapter (Google Ads, GA4, Meta)."""

    name: ClassVar[str]
    max_batch: ClassVar[int] = 1000
    #: One request may only carry items whose ``group_key`` is equal (GA4: one client per
    #: request). ``None`` means any items may share a request.
    groups_requests: ClassVar[bool] = False

    def __init__(self, settings: Any, *, dry_run: bool = False, timeout: float = 30.0) -> None:
        self.settings = settings
        self.dry_run = dry_run
        self.timeout = timeout

    def setup(self) -> None:
        """Build SDK clients; called once before the first send."""

    def close(self) -> None:
        """Release connections."""

    def group_key(self, prepared: Prepared[Payload]) -> str:
        """Items with different keys never share a request (see ``groups_requests``)."""
        return ""

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

    def validate(self, batch: list[Prepared[Payload]]) -> list[Validation]:
        """Ask the platform whether it would accept each item, without it counting anything.

        A dry run calls this instead of ``send``, on exactly the payloads ``send`` would get.
        Platforms with a validate-only mode override it (same errors as ``send``); the default
        posts nothing and says so, because a dry run must never deliver for real.
        """
        return [NotValidated(f"{self.name} has no validate-only mode; nothing was sent")] * len(
            batch
        )
