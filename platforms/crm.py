"""What a CRM source hands the sync: deals with their contacts, contacts' lifecycle, pipelines.

Values stay as the CRM gave them (strings); the sync validates and parses them, so that bad
data becomes a skipped deal with a reason instead of an exception in the source.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol


@dataclass(frozen=True)
class CrmContact:
    """A contact associated with a deal, with the properties named by the mapping profile."""

    id: str
    email: str | None = None
    phone: str | None = None
    hubspotutk: str | None = None
    visitor_id: str | None = None
    gclid: str | None = None
    fbclid: str | None = None
    lifecycle_stage: str | None = None
    created_time: datetime | None = None
    properties: dict[str, str | None] = field(default_factory=dict)
    modified_time: datetime | None = None  # set by contact pulls, which page on it


@dataclass(frozen=True)
class CrmDeal:
    """A deal as the CRM holds it now."""

    id: str
    modified_time: datetime
    name: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    amount: str | None = None
    currency: str | None = None
    close_date: str | None = None
    created_time: datetime | None = None
    is_closed_won: bool | None = None
    is_closed: bool | None = None
    contacts: tuple[CrmContact, ...] = ()
    properties: dict[str, str | None] = field(default_factory=dict)
    recurring_amount: str | None = None
    #: Stage ID -> when the deal entered it, as the CRM recorded it (empty if it keeps none).
    stage_entered: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class CrmStage:
    """One pipeline stage in display order."""

    id: str
    label: str
    display_order: int
    probability: float | None
    is_closed: bool
    is_won: bool


@dataclass(frozen=True)
class CrmPipeline:
    """A deal pipeline and its stages."""

    id: str
    label: str
    stages: tuple[CrmStage, ...]


@dataclass(frozen=True)
class ContactWrite:
    """One person's contact to write ``properties`` onto.

    ``contact_id`` is the contact closedloop already wrote for this person: the write goes to
    it. Without one (or when the CRM no longer has it) the contact is looked up by ``email``,
    then by ``visitor_ids`` and ``phone`` where the CRM can search them, and only created when
    none of them finds it, so a repeat lead never makes a second contact for one person.
    """

    key: int
    email: str | None
    phone: str | None
    properties: dict[str, str]
    contact_id: str | None = None
    visitor_ids: tuple[str, ...] = ()


#: Per write key: the contact ID, or the exception that stopped it.
Outcomes = dict[int, "str | Exception"]


class CrmSource(Protocol):
    """The CRM side of the loop (HubSpot today)."""

    def deals_changed_since(
        self, since: datetime | None, *, progress: object | None = None
    ) -> Iterator[list[CrmDeal]]:
        """Pages of deals modified at or after ``since`` (oldest first), contacts included."""
        ...

    def contacts_changed_since(
        self, since: datetime | None, *, progress: object | None = None
    ) -> Iterator[list[CrmContact]]:
        """Pages of contacts modified at or after ``since`` (oldest first).

        Each carries its email, lifecycle stage and the date-entered properties named by the
        profile's ``lifecycle`` section, as the CRM gave them.
        """
        ...

    def deals_by_id(self, ids: list[str]) -> list[CrmDeal]:
        """Specific deals (webhook fast path), contacts included."""
        ...

    def pipelines(self) -> list[CrmPipeline]:
        """Every deal pipeline with its stages."""
        ...

    def ensure_contact_properties(self, properties: dict[str, str], group_name: str) -> None:
        """Create the custom contact properties closedloop writes, if missing."""
        ...

    def upsert_contact(
        self, email: str | None, phone: str | None, properties: dict[str, str]
    ) -> str:
        """Find the contact by email (create it if missing), write ``properties``; its ID."""
        ...

    def clear_contact_properties(self, contact_ids: list[str], properties: list[str]) -> int:
        """Empty ``properties`` on these contacts (a privacy request erasing the write-back).

        Properties the CRM does not have and contacts it no longer has are skipped (nothing to
        clear there); the answer is the number of contacts cleared. Any failure raises.
        """
        ...

    def upsert_contacts(self, writes: list[ContactWrite]) -> Outcomes:
        """Write each ``ContactWrite`` (see there for how its contact is found), in few requests.

        The outcome per key is the ID of the contact written, or the exception that stopped it;
        an exception stops only the contacts it concerns. A lookup that fails is an exception,
        never a reason to create.
        """
        ...


@dataclass(frozen=True)
class WebhookRefusal:
    """Why a CRM webhook call is refused (answered 401 with this code and message)."""

    code: str
    message: str


class CrmWebhook(Protocol):
    """How one CRM's change notifications are signed and what they say.

    Served at ``POST /webhooks/<name>`` for every registry entry with a ``webhook``.
    """

    #: One line for the OpenAPI spec.
    summary: ClassVar[str]
    #: The request headers the CRM signs with (documented as required).
    headers: ClassVar[tuple[str, ...]]
    #: The field of the CRM's settings holding the signing secret.
    secret_field: ClassVar[str]

    @classmethod
    def refusal(
        cls, secret: str, method: str, uri: str, body: str, headers: Mapping[str, str], now_ms: int
    ) -> WebhookRefusal | None:
        """Why the call is refused, or None when it is authentic and fresh."""
        ...

    @classmethod
    def deal_ids(cls, events: Any, watched: set[str]) -> list[str] | None:
        """The deals to sync (created, restored, or a ``watched`` property changed).

        None when the body is not the CRM's event format at all (answered 400).
        """
        ...
