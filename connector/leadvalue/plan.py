"""Outbox rows for a person's entry into a lead stage, valued at what such leads have earned.

The same rules as a purchase: every destination the stage's event rule names, the person's
newest click or browser ID the destination takes, its identifiability and age limits, and
consent (a person who denied ``ad_user_data`` gets no lead conversion anywhere). Dedup keys
come from the person and the rule only (``cl-lead-<key>-<rule>``), so re-planning yields the
same keys and the outbox's unique index makes a second insert a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connector.leadvalue.cohort import StageEntry
from connector.leadvalue.store import Chosen
from connector.mapping import EventRule
from connector.sync import identifiers as ids
from connector.sync.match import Journey
from connector.sync.plan import PlanSettings, _joined_key, _safe
from connector.sync.windows import refusal, too_old
from platforms.base import CONVERSION

CONSENT_DENIED = "consent denied (ad_user_data)"
NO_VALUE = "no closed revenue learned for this stage yet"


def deal_id(entry: StageEntry) -> str:
    """The outbox's ``deal_id`` of a lead-stage row (no deal exists yet): ``lead:<key>``."""
    return f"lead:{entry.lead_key}"[:64]


def dedup_key(entry: StageEntry, rule: EventRule) -> str:
    """``cl-lead-<key>-<rule>``: one per person and stage rule, whatever the re-runs."""
    return _joined_key(["lead", _safe(entry.lead_key), _safe(rule.name)])


@dataclass
class LeadPlan:
    """Rows to insert, the value sent, and per destination why nothing was planned."""

    value: Decimal | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    not_planned: list[tuple[str, str]] = field(default_factory=list)


def rule_value(rule: EventRule, chosen: Chosen | None) -> Decimal | None:
    """The learned value for ``lead_value`` rules (None if none), else the rule's fixed one."""
    if rule.value == "lead_value":
        return chosen.value if chosen is not None and chosen.value > 0 else None
    if rule.value == "deal_amount":
        return None  # no deal yet: such a rule cannot fire on a lead stage
    return Decimal(rule.value)


def plan_entry(
    entry: StageEntry,
    journey: Journey,
    rule: EventRule,
    chosen: Chosen | None,
    currency: str,
    cfg: PlanSettings,
) -> LeadPlan:
    """The rule's rows for one stage entry on every destination that can take them."""
    resolved = cfg.resolve(rule)
    plan = LeadPlan(value=rule_value(rule, chosen))
    dests = [t.destination for t in resolved.targets]
    if plan.value is None:
        plan.not_planned += [(d, NO_VALUE) for d in dests]
        return plan
    facts = ids.JourneyFacts(journey, cfg.settings.tracking.default_phone_region)
    if facts.person(None).scalars.get("consent_ad_user_data") is False:
        plan.not_planned += [(d, CONSENT_DENIED) for d in dests]
        return plan
    key = dedup_key(entry, rule)
    for target in resolved.targets:
        dest = target.destination
        if refused := refusal(dest):
            plan.not_planned.append((dest, refused))
            continue
        identifiers, click_time = ids.stored(dest, facts, ids.last_unit(dest, journey))
        if entry.crm_lead_id and ids.matches_on(dest, "crm_lead_id"):
            identifiers["crm_lead_id"] = entry.crm_lead_id
        if not ids.identifiable(dest, identifiers):
            plan.not_planned.append((dest, "no eligible identifier"))
            continue
        reason = too_old(
            dest,
            CONVERSION,
            event_time=entry.entered_at,
            click_time=click_time,
            now=cfg.now,
            settings=cfg.settings,
        )
        if reason:
            plan.not_planned.append((dest, reason))
            continue
        plan.rows.append(
            {
                "deal_id": deal_id(entry),
                "destination": dest,
                "kind": CONVERSION,
                "event_name": target.event_name[:64],
                "dedup_key": key,
                "adjusts_key": None,
                "options": {**target.options, "lead_stage": entry.stage},
                "value": plan.value,
                "currency": currency.upper(),
                "event_time": entry.entered_at,
                "identifiers": identifiers,
            }
        )
    return plan
