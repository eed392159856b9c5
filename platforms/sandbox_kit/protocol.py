"""The one interface every platform's sandbox (``platforms/<name>/sandbox/``) offers.

The demo, the end-to-end tests and the contract kit (``tests/contract/``) drive every
registered platform through this, so a new platform's emulator is exercised by all of them
the moment it is registered. Emulators speak the platform's real protocol to the unmodified
SDK; this interface is only how our tests set them up and read what they saw.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, Self, runtime_checkable

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
    """The emulator of a platform that receives conversions."""

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
