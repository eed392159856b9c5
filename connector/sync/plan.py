"""Outbox rows for a deal: new conversions, restatements and retractions. Pure.

Dedup keys come from the deal and the rule only (``cl-<deal>-<rule>``, ``-<n>`` per click in
split mode, ``-g<k>`` for a re-win after a retraction), so planning the same state twice
yields the same keys and the unique index turns the second insert into a no-op.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from connector.attribution import split_amount, weights
from connector.attribution.models import DATA_DRIVEN
from connector.config import Settings
from connector.mapping import EventRule
from connector.sync import identifiers as ids
from connector.sync.deals import CheckedDeal
from connector.sync.learned import NOT_LEARNED, LearnedCredit
from connector.sync.match import Journey
from connector.sync.windows import adjustable, refusal, too_old
from platforms.base import CONVERSION, RESTATEMENT, RETRACTION, Identifiers

MAX_KEY = 64
#: The channel of a click no touch carries: no learned share, never Direct.
UNKNOWN_CHANNEL = "(unknown)"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def dedup_key(deal_id: str, rule: str, *suffix: str) -> str:
    """``cl-<deal>-<rule>[-suffix...]``; hashed when longer than 64 characters. No PII."""
    return _joined_key([_safe(p) for p in (deal_id, rule, *suffix)])


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part)


def _joined_key(parts: Sequence[str]) -> str:
    """The dedup key of already safe parts (see :func:`dedup_key`)."""
    key = "-".join(["cl", *parts])
    if len(key) <= MAX_KEY:
        return key
    return "cl-" + hashlib.sha256(key.encode()).hexdigest()[: MAX_KEY - 3]


@dataclass(frozen=True)
class Target:
    """One destination of one rule, with what every row for it shares."""

    destination: str
    event_name: str
    options: dict[str, Any]
    split: bool
    #: Why nothing may be planned for the destination at all (``windows.refusal``), if so:
    #: it depends on the registered class only, so it is asked once per run, not per deal.
    refused: str | None = None


@dataclass(frozen=True)
class ResolvedRule:
    """A rule's targets and key part, worked out once per run (see :meth:`PlanSettings.resolve`).

    Holds the rule itself so the memo entry, keyed by ``id(rule)``, cannot outlive it.
    """

    rule: EventRule
    key_part: str
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class PlanSettings:
    """What planning needs from the config, resolved once per run."""

    settings: Settings
    destinations: tuple[str, ...]
    now: datetime
    #: The run's fit of the learned models, for ``attribution.model: markov|shapley`` splits.
    learned: LearnedCredit = NOT_LEARNED
    _resolved: dict[int, ResolvedRule] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def resolve(self, rule: EventRule) -> ResolvedRule:
        """Targets, event names, options and split flags of ``rule``, memoised for the run.

        They depend on the config and the rule only, both fixed for a run, yet every deal's
        planning would otherwise look them up again for each destination.
        """
        memo = self._resolved.get(id(rule))
        if memo is None or memo.rule is not rule:
            memo = ResolvedRule(
                rule, _safe(rule.name), tuple(self._target(d, rule) for d in self.targets(rule))
            )
            self._resolved[id(rule)] = memo
        return memo

    def _target(self, destination: str, rule: EventRule) -> Target:
        options = {**(rule.platforms.get(destination) or {}), "rule": rule.name}
        event_name = self.event_name(destination, rule)[:64]
        split = self.split(destination)
        return Target(destination, event_name, options, split, refusal(destination))

    def split(self, destination: str) -> bool:
        """Per-platform ``split`` overriding ``attribution.split``."""
        own = getattr(getattr(self.settings.platforms, destination, None), "split", None)
        return self.settings.attribution.split if own is None else bool(own)

    def event_name(self, destination: str, rule: EventRule) -> str:
        """The rule's ``platforms.<name>.event_name``, else the platform's default."""
        entry = rule.platforms.get(destination) or {}
        if entry.get("event_name"):
            return str(entry["event_name"])
        if rule.is_deal_won():
            default = getattr(
                getattr(self.settings.platforms, destination, None), "event_name", None
            )
            if default:
                return str(default)
        return rule.name

    def targets(self, rule: EventRule) -> list[str]:
        """Enabled destinations the rule sends to (all of them if it names none)."""
        if not rule.platforms:
            return list(self.destinations)
        return [d for d in self.destinations if d in rule.platforms]


@dataclass(frozen=True)
class ExistingRow:
    """An outbox row already planned for a deal (for restatements and retractions)."""

    destination: str
    kind: str
    event_name: str
    dedup_key: str
    adjusts_key: str | None
    value: Decimal
    currency: str
    event_time: datetime
    identifiers: dict[str, Any]
    options: dict[str, Any]

    @property
    def rule(self) -> str | None:
        """The event rule the row was planned for."""
        return self.options.get("rule")

    @property
    def generation(self) -> int:
        """0 for the first win, +1 for each re-win after a retraction."""
        return int(self.options.get("generation", 0))


@dataclass
class Plan:
    """Rows to insert and, per destination, why something was not planned."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    not_planned: list[tuple[str, str]] = field(default_factory=list)


def rule_fires(rule: EventRule, deal: CheckedDeal) -> bool:
    """Whether a non-won rule's ``when`` holds for the deal now (deal_stage, lifecycle_stage)."""
    when = rule.when
    if not when or rule.is_deal_won():
        return False

    def matches(expected: Any, actual: str | None) -> bool:
        wanted = {str(v) for v in expected} if isinstance(expected, list) else {str(expected)}
        return actual is not None and actual in wanted

    for key, expected in when.items():
        if key == "deal_stage" and not matches(expected, deal.raw.stage):
            return False
        if key == "pipeline" and not matches(expected, deal.raw.pipeline):
            return False
        if key == "lifecycle_stage" and not any(
            matches(expected, c.lifecycle_stage) for c in deal.raw.contacts
        ):
            return False
        if key not in ("deal_stage", "pipeline", "lifecycle_stage"):
            return False  # unknown condition: never fire rather than fire on everything
    return True


def rule_value(rule: EventRule, deal: CheckedDeal, default_currency: str) -> tuple[Decimal, str]:
    """The deal amount for ``deal_amount`` rules, else the rule's fixed value."""
    if rule.value == "deal_amount":
        assert deal.amount is not None and deal.currency is not None
        return deal.amount, deal.currency
    return Decimal(rule.value), (rule.currency or default_currency).upper()


def plan_conversions(
    deal: CheckedDeal,
    journey: Journey,
    rule: EventRule,
    cfg: PlanSettings,
    existing: Sequence[ExistingRow] = (),
    *,
    event_time: datetime,
) -> Plan:
    """New conversion rows for one rule on every destination that can take them."""
    plan = Plan()
    value, currency = rule_value(rule, deal, cfg.settings.currency)
    resolved = cfg.resolve(rule)
    # Consent, hashes and browser IDs belong to the person: work them out once, not per row.
    facts = ids.JourneyFacts(journey, cfg.settings.tracking.default_phone_region)
    deal_id = deal.id
    base_key = _joined_key([_safe(deal_id), resolved.key_part])
    for target in resolved.targets:
        dest = target.destination
        # A half-declared destination is refused first, with the declarations it lacks: its
        # identifiers would otherwise be judged by rules it never declared.
        if refused := target.refused:
            plan.not_planned.append((dest, refused))
            continue
        generation = _generation(existing, dest, rule.name) if existing else 0
        chosen, split = _chosen(target, journey, value, cfg, event_time)
        options = {**target.options, "generation": generation} if generation else target.options
        for n, (unit, share) in enumerate(chosen, start=1):
            identifiers, click_time = ids.stored(dest, facts, unit)
            if not ids.identifiable(dest, identifiers):
                plan.not_planned.append((dest, "no eligible identifier"))
                continue
            reason = too_old(
                dest,
                CONVERSION,
                event_time=event_time,
                click_time=click_time,
                now=cfg.now,
                settings=cfg.settings,
            )
            if reason:
                plan.not_planned.append((dest, reason))
                continue
            key = base_key
            if generation or split:
                suffix = [f"g{generation}"] if generation else []
                if split:
                    suffix.append(str(n))
                key = _joined_key([_safe(deal_id), resolved.key_part, *suffix])
            plan.rows.append(
                _row(
                    deal_id,
                    dest,
                    CONVERSION,
                    target.event_name,
                    key,
                    None,
                    options,
                    share,
                    currency,
                    event_time,
                    identifiers,
                )
            )
    return plan


def _generation(existing: Sequence[ExistingRow], dest: str, rule: str) -> int:
    """The generation to plan: the live one again, or the next one after a retraction."""
    mine = [
        r for r in existing if r.destination == dest and r.kind == CONVERSION and r.rule == rule
    ]
    if not mine:
        return 0
    retracted = {r.adjusts_key for r in existing if r.kind == RETRACTION and r.destination == dest}
    top = max(r.generation for r in mine)
    if any(r.dedup_key not in retracted for r in mine if r.generation == top):
        return top  # still live: re-plan the same keys (a no-op insert)
    return top + 1


def _chosen(
    target: Target, journey: Journey, value: Decimal, cfg: PlanSettings, event_time: datetime
) -> tuple[list[tuple[ids.Unit, Decimal]], bool]:
    """The units the destination's rows go to with their values, and whether that is a split."""
    dest = target.destination
    if not target.split:
        # Unsplit, the platform runs its own attribution from the most recent visit.
        return [(ids.last_unit(dest, journey), value)], False
    # Split rows carry attributed shares, so they follow attribution.ignore_direct too.
    attribution = cfg.settings.attribution
    units = ids.credited_units(ids.eligible_units(dest, journey), attribution.ignore_direct)
    if len(units) <= 1:
        return [(units[-1] if units else ids.NO_UNIT, value)], False
    if attribution.model in DATA_DRIVEN:
        exact = cfg.learned.weights(attribution.model, _unit_channels(units, journey))
        return list(zip(units, split_amount(value, exact), strict=True)), True
    times = [u.click.time if u.click else u.touch.time for u in units]  # type: ignore[union-attr]
    exact = weights(
        attribution.model,
        times,  # type: ignore[arg-type]
        close_time=event_time,
        half_life_days=attribution.half_life_days,
    )
    return list(zip(units, split_amount(value, exact), strict=True)), True


def _unit_channels(units: Sequence[ids.Unit], journey: Journey) -> list[str | None]:
    """Each unit's channel: its touch's, or the touch its click landed on.

    A click the CRM alone knew (no touch) has no channel, so a learned model gives it a share
    only when no unit has a learned channel (then all split equally).
    """
    by_id = {t.id: t.channel for t in journey.touches}
    out: list[str | None] = []
    for unit in units:
        if unit.touch is not None:
            out.append(unit.touch.channel)
        elif unit.click is not None and unit.click.touch_id is not None:
            out.append(by_id.get(unit.click.touch_id, UNKNOWN_CHANNEL))
        else:
            out.append(UNKNOWN_CHANNEL)
    return out


def _live(existing: Sequence[ExistingRow], rule: str) -> list[ExistingRow]:
    """Adjustable conversion rows of the rule's newest generation not yet retracted."""
    retracted = {(r.destination, r.adjusts_key) for r in existing if r.kind == RETRACTION}
    rows = [
        r for r in existing if r.kind == CONVERSION and r.rule == rule and adjustable(r.destination)
    ]
    if not rows:
        return []
    top = max(r.generation for r in rows)
    return [
        r for r in rows if r.generation == top and (r.destination, r.dedup_key) not in retracted
    ]


def _count_adjustments(existing: Sequence[ExistingRow], row: ExistingRow, kind: str) -> int:
    return sum(
        1
        for r in existing
        if r.kind == kind and r.adjusts_key == row.dedup_key and r.destination == row.destination
    )


def plan_restatements(
    deal: CheckedDeal, rule: str, existing: Sequence[ExistingRow], cfg: PlanSettings
) -> Plan:
    """Restate live conversions to the new amount, keeping their proportions.

    Each destination received the whole deal (split across its own clicks, if at all), so
    the new amount is split among each destination's rows, never across destinations.
    """
    plan = Plan()
    live = [r for r in _live(existing, rule) if r.destination in cfg.destinations]
    if not live or deal.amount is None or deal.currency is None:
        return plan
    amount = deal.amount
    by_destination: dict[str, list[ExistingRow]] = {}
    for row in live:
        by_destination.setdefault(row.destination, []).append(row)
    shared = [
        pair
        for rows in by_destination.values()
        for pair in zip(rows, split_amount(amount, [Fraction(r.value) for r in rows]), strict=True)
    ]
    for row, value in shared:
        reason = too_old(
            row.destination,
            RESTATEMENT,
            event_time=row.event_time,
            click_time=None,
            now=cfg.now,
            settings=cfg.settings,
        )
        if reason:
            plan.not_planned.append((row.destination, reason))
            continue
        n = _count_adjustments(existing, row, RESTATEMENT) + 1
        plan.rows.append(
            _row(
                deal.id,
                row.destination,
                RESTATEMENT,
                row.event_name,
                _adjust_key(row.dedup_key, f"rs{n}"),
                row.dedup_key,
                row.options,
                value,
                deal.currency,
                row.event_time,
                Identifiers.from_json(row.identifiers).to_json(),
            )
        )
    return plan


def plan_retractions(
    deal_id: str, rule: str, existing: Sequence[ExistingRow], cfg: PlanSettings
) -> Plan:
    """Withdraw live Google conversions of a deal that left closed-won."""
    plan = Plan()
    for row in _live(existing, rule):
        if row.destination not in cfg.destinations:
            continue
        reason = too_old(
            row.destination,
            RETRACTION,
            event_time=row.event_time,
            click_time=None,
            now=cfg.now,
            settings=cfg.settings,
        )
        if reason:
            plan.not_planned.append((row.destination, reason))
            continue
        n = _count_adjustments(existing, row, RETRACTION) + 1
        plan.rows.append(
            _row(
                deal_id,
                row.destination,
                RETRACTION,
                row.event_name,
                _adjust_key(row.dedup_key, f"rt{n}"),
                row.dedup_key,
                row.options,
                row.value,
                row.currency,
                row.event_time,
                Identifiers.from_json(row.identifiers).to_json(),
            )
        )
    return plan


def _adjust_key(original: str, suffix: str) -> str:
    key = f"{original}-{suffix}"
    if len(key) <= MAX_KEY:
        return key
    return "cl-" + hashlib.sha256(key.encode()).hexdigest()[: MAX_KEY - 3]


def _row(
    deal_id: str,
    destination: str,
    kind: str,
    event_name: str,
    key: str,
    adjusts: str | None,
    options: dict[str, Any],
    value: Decimal,
    currency: str,
    event_time: datetime,
    identifiers: dict[str, Any],
) -> dict[str, Any]:
    return {
        "deal_id": deal_id,
        "destination": destination,
        "kind": kind,
        "event_name": event_name[:64],
        "dedup_key": key,
        "adjusts_key": adjusts,
        "options": dict(options),
        "value": value,
        "currency": currency,
        "event_time": event_time,
        "identifiers": identifiers,
    }
