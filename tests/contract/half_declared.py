"""A destination that declares only its batch size and click kinds, for the refusal test."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from platforms.base import Destination, Outcome, PlannedConversion, Prepared, Skip, Wait


class HalfDeclared(Destination[Any]):
    """No ``identified_by``, ``kinds`` or ``too_old``: planning must refuse it, naming them."""

    name: ClassVar[str] = "contract_half"
    max_batch: ClassVar[int] = 10
    click_kinds: ClassVar[tuple[str, ...]] = ("gclid",)

    def prepare(self, conversion: PlannedConversion, now: datetime) -> Prepared[Any] | Skip | Wait:
        """Never reached: nothing is planned for it."""
        raise AssertionError("a half-declared destination was asked to prepare")

    def send(self, batch: list[Prepared[Any]]) -> list[Outcome]:
        """Never reached: nothing is planned for it."""
        raise AssertionError("a half-declared destination was asked to send")
