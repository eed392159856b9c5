"""The generic ``confirming`` step: platforms that give their verdict later, and those that don't.

The tiny platform's adapter is given the declared capability here (a ``confirmation()``
schedule and ``confirm``): each request is taken for processing under one reference, whose
verdict the test scripts as the platform would later answer it.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from connector.errors import PermanentPlatformError
from connector.outbox.step import deliver_due
from platforms.base import Accepted, Confirming, ConfirmSchedule, Rejected

from .conftest import NOW, tiny

HOUR = 3600.0


class AsyncTiny(tiny.TinyDestination):
    """The tiny platform, answering "taken for processing" with a per-request reference."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.verdicts: dict[str, Any] = {}
        self.asked: Counter[str] = Counter()
        self.refuse: PermanentPlatformError | None = None

    def send(self, batch):  # type: ignore[override]
        outcomes = super().send(batch)
        ref = f"req-{batch[0].payload['client']}"
        return [Confirming(ref=ref) if isinstance(o, Accepted) else o for o in outcomes]

    def confirmation(self) -> ConfirmSchedule:
        return ConfirmSchedule(first_seconds=0.5 * HOUR, give_up_seconds=24 * HOUR)

    def confirm(self, refs):  # type: ignore[override]
        if self.refuse is not None:
            raise self.refuse
        self.asked.update(refs)
        return {ref: self.verdicts[ref] for ref in refs if ref in self.verdicts}


class UndeclaredTiny(AsyncTiny):
    """Answers Confirming but declares no schedule: what it sent is final."""

    def confirmation(self):  # type: ignore[override]
        return None


def adapter(cls, emulator):
    made = cls(tiny.TinySettings(**emulator.platform_config()), timeout=5.0)
    made.setup()
    return made


def test_rows_are_asked_about_once_per_reference_across_chunks(runtime, add_rows, rows, emulator):
    """180 rows in 60 requests (3 per client): 60 look-ups, each reference asked once."""
    add_rows(180, clients=60)
    platform = adapter(AsyncTiny, emulator)
    deliver_due(runtime, now=NOW, adapters={"tiny": platform})
    assert {r.status for r in rows().values()} == {"confirming"}
    assert not platform.asked
    platform.verdicts = {f"req-c{i}": Accepted(ref=f"req-c{i}") for i in range(59)}
    platform.verdicts["req-c59"] = Rejected("LATE_FAILURE", "the platform failed it later")
    summary = deliver_due(runtime, now=NOW + timedelta(hours=1), adapters={"tiny": platform})
    summary_t = summary.platforms["tiny"]
    assert platform.asked == Counter({f"req-c{i}": 1 for i in range(60)})
    assert summary_t.lookups == 60 and summary_t.requests == 0
    assert summary_t.counts == {"accepted": 177, "rejected": 3}
    statuses = Counter(r.status for r in rows().values())
    assert statuses == {"accepted": 177, "rejected": 3}
    assert len(emulator.accepted) == 180  # sent once each, never again
    platform.close()


def test_a_platform_without_the_capability_keeps_final_outcomes(runtime, add_rows, rows, emulator):
    """No ``confirmation()``: a Confirming answer is recorded accepted, nothing is asked."""
    add_rows(3)
    platform = adapter(UndeclaredTiny, emulator)
    summary = deliver_due(runtime, now=NOW, adapters={"tiny": platform}).platforms["tiny"]
    assert summary.counts == {"accepted": 3} and summary.lookups == 0
    assert {r.status for r in rows().values()} == {"accepted"}
    assert not platform.asked
    platform.close()


def test_the_plain_tiny_platform_never_confirms(runtime, add_rows, rows, emulator):
    """The registered-style adapter (Accepted in ``send``): accepted at once, no look-ups."""
    add_rows(3)
    platform = adapter(tiny.TinyDestination, emulator)
    summary = deliver_due(runtime, now=NOW, adapters={"tiny": platform}).platforms["tiny"]
    assert summary.counts == {"accepted": 3} and summary.lookups == 0
    platform.close()


def test_a_refused_look_up_pauses_the_pass_and_keeps_every_row(runtime, add_rows, rows, emulator):
    """Auth fails on confirm: the handed-over rows stay confirming, new rows stay pending."""
    add_rows(2, prefix="old")
    platform = adapter(AsyncTiny, emulator)
    deliver_due(runtime, now=NOW, adapters={"tiny": platform})
    add_rows(2, prefix="new")
    platform.refuse = PermanentPlatformError("token revoked", platform="tiny", code="AUTH")
    later = NOW + timedelta(hours=1)
    summary = deliver_due(runtime, now=later, adapters={"tiny": platform}).platforms["tiny"]
    assert summary.error == "AUTH: token revoked"
    by_key = rows()
    assert {k: r.status for k, r in by_key.items()} == {
        "old0": "confirming",
        "old1": "confirming",
        "new0": "pending",
        "new1": "pending",
    }
    assert all(r.claimed_by is None for r in by_key.values())
    assert len(emulator.accepted) == 2
    platform.close()
