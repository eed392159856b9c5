"""Per-run, per-platform tallies of what delivery did (or, in a dry run, would have done)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: Outcome labels, in the order the summary and the log line show them.
ACCEPTED, SKIPPED, REJECTED, RETRYING, DEAD, WAITING = (
    "accepted",
    "skipped",
    "rejected",
    "retrying",
    "dead",
    "waiting",
)
#: Handed over in this pass, awaiting the platform's final verdict (``Destination.confirm``).
CONFIRMING = "confirming"
#: Dry runs only: the platform has no validate-only mode (or it is not configured).
NOT_VALIDATED = "not_validated"
LABELS = (ACCEPTED, CONFIRMING, SKIPPED, REJECTED, RETRYING, DEAD, WAITING, NOT_VALIDATED)
#: Distinct messages kept per reason code, so a dry run can say why, not only how often.
EXAMPLES_PER_CODE = 3


@dataclass
class PlatformSummary:
    """What happened to one platform's conversions in one delivery pass."""

    platform: str
    dry_run: bool = False
    counts: Counter[str] = field(default_factory=Counter)
    reasons: dict[str, Counter[str]] = field(default_factory=dict)
    requests: int = 0
    error: str | None = None
    #: Whole-request retryable failures (429, 5xx, timeouts) seen during the pass.
    request_failures: int = 0
    #: The last whole-request failure's message, for ``PlatformStatus.last_error``.
    last_failure: str | None = None
    #: The platforms' own messages by label and reason code (a few each), for the dry run.
    examples: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: Verdict look-ups (``Destination.confirm``): one per platform reference asked about.
    lookups: int = 0

    def add(self, label: str, code: str | None = None, message: str | None = None) -> None:
        """Count one conversion under ``label``, and its reason code when it has one.

        An accepted row has a code only when the platform's verdict carried a warning (a
        request processed in part): it is counted under that code too.
        """
        self.counts[label] += 1
        if code:
            self.reasons.setdefault(label, Counter())[code] += 1
            if message:
                kept = self.examples.setdefault(label, {}).setdefault(code, [])
                if message not in kept and len(kept) < EXAMPLES_PER_CODE:
                    kept.append(message)

    def top_retry_reason(self) -> str | None:
        """The most frequent reason items were retried or given up, with its message."""
        codes: Counter[str] = Counter()
        for label in (RETRYING, DEAD):
            codes.update(self.reasons.get(label, {}))
        if not codes:
            return None
        code, count = codes.most_common(1)[0]
        seen = [m for label in (RETRYING, DEAD) for m in self.examples.get(label, {}).get(code, [])]
        message = seen[0] if seen else None
        return f"{code}: {message} ({count} items)" if message else f"{code} ({count} items)"

    def merge(self, other: PlatformSummary) -> None:
        """Fold another pass's tallies into this one (the scheduler may run several)."""
        self.counts.update(other.counts)
        for label, codes in other.reasons.items():
            self.reasons.setdefault(label, Counter()).update(codes)
        self.requests += other.requests
        self.lookups += other.lookups
        self.request_failures += other.request_failures
        self.error = other.error or self.error
        self.last_failure = other.last_failure or self.last_failure
        for label, codes in other.examples.items():
            for code, messages in codes.items():
                kept = self.examples.setdefault(label, {}).setdefault(code, [])
                kept.extend(m for m in messages if m not in kept)
                del kept[EXAMPLES_PER_CODE:]

    @property
    def total(self) -> int:
        """Conversions handled in this pass."""
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        """JSON shape stored on the run (``SyncRun.summary[platform]``)."""
        out: dict[str, Any] = {label: self.counts.get(label, 0) for label in LABELS}
        out["requests"] = self.requests
        out["lookups"] = self.lookups
        out["reasons"] = {
            label: dict(self.reasons[label].most_common())
            for label in LABELS
            if self.reasons.get(label)
        }
        out["dry_run"] = self.dry_run
        if self.dry_run:
            out["examples"] = self.examples
        out["error"] = self.error
        return out

    def log_line(self) -> str:
        """One line for the log: every non-zero count with its reasons."""
        parts = []
        for label in LABELS:
            count = self.counts.get(label, 0)
            if not count:
                continue
            codes = self.reasons.get(label)
            detail = (
                " (" + ", ".join(f"{code}:{n}" for code, n in codes.most_common(5)) + ")"
                if codes
                else ""
            )
            parts.append(f"{label}={count}{detail}")
        called = self.requests or self.lookups
        text = " ".join(parts) or ("nothing due" if not called else "nothing delivered")
        prefix = "dry run " if self.dry_run else ""
        tail = f" error: {self.error}" if self.error else ""
        lookups = f" lookups={self.lookups}" if self.lookups else ""
        return f"{prefix}deliver {self.platform}: {text}; requests={self.requests}{lookups}{tail}"


@dataclass
class DeliverySummary:
    """All platforms of one delivery pass."""

    platforms: dict[str, PlatformSummary] = field(default_factory=dict)

    def for_platform(self, name: str, *, dry_run: bool = False) -> PlatformSummary:
        """The summary of ``name``, created on first use."""
        if name not in self.platforms:
            self.platforms[name] = PlatformSummary(name, dry_run=dry_run)
        return self.platforms[name]

    @property
    def failures(self) -> int:
        """Platforms that stopped on an error a human must fix."""
        return sum(1 for p in self.platforms.values() if p.error)

    def as_dict(self) -> dict[str, Any]:
        """JSON shape: platform name -> its summary."""
        return {name: p.as_dict() for name, p in self.platforms.items()}
