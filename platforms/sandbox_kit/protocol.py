"""The one interface every platform's sandbox (``platforms/<name>/sandbox/``) offers.

The demo, the end-to-end tests and the contract kit (``tests/contract/``) drive every
registered platform through this, so a new platform's emulator is exercised by all of them
the moment it is registered. Emulators speak the platform's real protocol to the unmodified
SDK; this interface is only how our tests set them up and read what they saw.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, Self, runtime_checkable

from platforms.sandbox_kit.faults import FaultPlan


@runtime_checkable
class Sandbox(Protocol):
    """A running local emulator of one outside system."""

    #: Request-level faults (429s, 5xx, drops, lost responses), drawn deterministically.
    faults: FaultPlan

    def start(self) -> Self:
        """Listen on a free local port (idempotent) and return self."""

    def stop(self) -> None:
        """Stop listening and release the port."""

    def platform_config(self) -> dict[str, Any]:
        """The ``platforms.<name>`` config section pointing the connector at this sandbox.

        ``enabled: true`` and everything the section requires (credentials, IDs, URLs).
        """

    @property
    def requests(self) -> int:
        """API requests received so far (token refreshes not counted)."""


@runtime_checkable
class DestinationSandbox(Sandbox, Protocol):
    """The emulator of a platform that receives conversions.

    Besides reading what it saw, it declares the platform's own rules the contract kit judges
    the adapter by (the expected side comes from the platform, never from the adapter):
    ``denied_consent``, ``max_conversion_age``, ``transient_scope`` and ``retry_hint_seconds``.
    An optional ``item_errors_config`` (a dict) is merged into ``platform_config()`` by the kit
    where the platform reports per-item errors only in a mode the config switches on (GA4's
    validation server).
    """

    #: What the platform's rules say about a person who denied ``ad_user_data`` consent:
    #: ``withheld``, the conversion must never reach it; ``flagged``, it receives the
    #: conversion marked as denied (the accepted record's ``consent_denied`` is True).
    denied_consent: Literal["withheld", "flagged"]
    #: Whether the transient error ``fail_item(permanent=False)`` answers fails only the item
    #: (``item``) or the whole request carrying it (``request``), as the platform does.
    transient_scope: Literal["item", "request"]

    @property
    def max_conversion_age(self) -> timedelta | None:
        """The oldest conversion (event and click) the platform takes as configured.

        None: it takes any age (GA4 dates a late event at receipt).
        """

    @property
    def retry_hint_seconds(self) -> float:
        """The wait the platform's transient ``fail_item`` error asks for, in seconds."""

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Every item the platform took, oldest first, once per platform dedup key.

        Each record has ``key`` (the platform's own dedup key as sent: order ID, event ID,
        transaction ID...), ``kind`` (conversion / restatement / retraction) and ``value``
        (the amount as a string, or None), plus whatever else the platform saw.
        """

    @property
    def rejected(self) -> list[dict[str, Any]]:
        """Every item refused, with ``key``, ``code`` and ``message`` in the platform's words."""

    def know_click(self, kind: str, value: str, time: datetime) -> None:
        """Make a click the platform made known to it (no-op where it does not check)."""

    def fail_item(self, key: str, *, permanent: bool) -> None:
        """Answer the item with dedup key ``key`` with the platform's per-item error.

        ``permanent``: its validation error (never retried); otherwise its transient error
        with the retry hint it gives, once. Lets the contract kit check partial failure
        with every platform's real error shape.
        """
