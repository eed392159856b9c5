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
from connector.config import Settings
from connector.mapping import EventRule
from connector.sync import identifiers as ids
from connector.sync.deals import CheckedDeal
from connector.sync.match import Journey
from connector.sync.windows import ADJUSTABLE, too_old
from platforms.base import CONVERSION, RESTATEMENT, RETRACTION, Identifiers

MAX_KEY = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_.]+")


def dedup_key(deal_id: str, rule: str, *suffix: str) -> str:
    """``cl-<deal>-<rule>[-suffix...]``; hashed when longer than 64 characters. No PII."""
    parts = [_UNSAFE.sub("_", p) for p in (deal_id, rule, *suffix)]
    key = "-".join(["cl", *parts])
    if len(key) <= MAX_KEY:
        return key
    return "cl-" + hashlib.sha256(key.encode()).hexdigest()[: MAX_KEY - 3]


@dataclass(frozen=True)
class PlanSettings:
    """What planning needs from the config, resolved once per run."""

    settings: Settings
    destinations: tuple[str, ...]
    now: datetime

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
    region = cfg.settings.tracking.default_phone_region
    for dest in cfg.targets(rule):
        mine = [
            r
            for r in existing
            if r.destination == dest and r.kind == CONVERSION and r.rule == rule.name
        ]
        generation = 0
        if mine:
            retracted = {
                r.adjusts_key for r in existing if r.kind == RETRACTION and r.destination == dest
            }
            top = max(r.generation for r in mine)
            if any(r.dedup_key not in retracted for r in mine if r.generation == top):
                generation = top  # still live: re-plan the same keys (a no-op insert)
            else:
                generation = top + 1
        units = ids.eligible_units(dest, journey)
        split_mode = cfg.split(dest)
        if split_mode:
            # Split rows carry attributed shares, so they follow attribution.ignore_direct too.
            # Unsplit, the platform runs its own attribution from the most recent visit.
            units = ids.credited_units(units, cfg.settings.attribution.ignore_direct)
        split = split_mode and len(units) > 1
        if split:
            model = cfg.settings.attribution.model
            times = [u.click.time if u.click else u.touch.time for u in units]  # type: ignore[union-attr]
            exact = weights(
                model,
                times,  # type: ignore[arg-type]
                close_time=event_time,
                half_life_days=cfg.settings.attribution.half_life_days,
            )
            values = split_amount(value, exact)
            chosen = list(zip(units, values, strict=True))
        else:
            chosen = [(units[-1] if units else ids.Unit(), value)]
        options = {**(rule.platforms.get(dest) or {}), "rule": rule.name}
        if generation:
            options["generation"] = generation
        event_name = cfg.event_name(dest, rule)
        for n, (unit, share) in enumerate(chosen, start=1):
            identifiers = ids.build(dest, journey, unit, region)
            if not ids.can_identify(dest, identifiers):
                plan.not_planned.append((dest, "no eligible identifier"))
                continue
            reason = too_old(
                dest,
                CONVERSION,
                event_time=event_time,
                click_time=identifiers.click_time,
                now=cfg.now,
                settings=cfg.settings,
            )
            if reason:
                plan.not_planned.append((dest, reason))
                continue
            suffix = [f"g{generation}"] if generation else []
            if split:
                suffix.append(str(n))
            plan.rows.append(
                _row(
                    deal.id,
                    dest,
                    CONVERSION,
                    event_name,
                    dedup_key(deal.id, rule.name, *suffix),
                    None,
                    options,
                    share,
                    currency,
                    event_time,
                    identifiers,
                )
            )
    return plan


def _live(existing: Sequence[ExistingRow], rule: str) -> list[ExistingRow]:
    """Adjustable conversion rows of the rule's newest generation not yet retracted."""
    retracted = {(r.destination, r.adjusts_key) for r in existing if r.kind == RETRACTION}
    rows = [
        r
        for r in existing
        if r.kind == CONVERSION and r.rule == rule and r.destination in ADJUSTABLE
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
    """Restate live Google conversions to the new amount, keeping their proportions."""
    plan = Plan()
    live = [r for r in _live(existing, rule) if r.destination in cfg.destinations]
    if not live or deal.amount is None or deal.currency is None:
        return plan
    shares = split_amount(deal.amount, [Fraction(r.value) for r in live])
    for row, value in zip(live, shares, strict=True):
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
                Identifiers.from_json(row.identifiers),
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
                Identifiers.from_json(row.identifiers),
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
    identifiers: Identifiers,
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
        "identifiers": identifiers.to_json(),
    }
