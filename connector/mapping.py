"""Mapping profiles: which CRM fields and stages become which conversion events.

Profiles are YAML files in the ``mappings`` package (or a path); ``mapping.overrides`` in the
config is deep-merged on top. Validated so a typo'd key fails with its path.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

import platforms
from connector.config import Settings
from connector.errors import ConfigError
from connector.leadvalue.settings import LEAD_STAGES, LeadValueSettings


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DealFields(_Strict):
    """CRM deal property names (unset ones come from the CRM's own profile, see below)."""

    name: str
    amount: str
    currency: str
    close_date: str
    stage: str
    pipeline: str
    is_closed_won: str | None = None
    is_closed: str | None = None
    modified: str
    created: str
    #: Optional: the property holding the deal's monthly recurring amount (reports' new MRR).
    recurring_amount: str | None = None
    #: The property holding when a deal entered a stage, with ``{stage}`` for the stage ID
    #: (HubSpot: ``hs_v2_date_entered_{stage}``): stage events carry the CRM's own time, not
    #: the time a sync saw the change. Unset: the deal's modified time is used.
    stage_entered: str | None = None

    def stage_entered_property(self, stage: str) -> str | None:
        """The date-entered property of ``stage``, or None when the profile names none."""
        return self.stage_entered.format(stage=stage) if self.stage_entered else None


class ContactFields(_Strict):
    """CRM contact property names (unset ones come from the CRM's own profile, see below).

    ``hubspotutk`` is the property holding the CRM's own tracking cookie, which links a
    contact to visitors (HubSpot names it ``hubspotutk``; other CRMs may have none).
    """

    email: str
    phone: str | None = None
    hubspotutk: str | None = None
    visitor_id: str | None = None
    gclid: str | None = None
    fbclid: str | None = None
    lifecycle_stage: str | None = None


#: The lifecycle milestones closedloop counts (the source report's MQLs and SQLs).
MILESTONES = ("mql", "sql")


class LifecycleMapping(_Strict):
    """Which CRM lifecycle stages are MQL and SQL, and which properties hold when each began.

    ``mql``/``sql`` map a lifecycle stage value to the contact property holding the time the
    contact entered it; several stages may count as one milestone (the earliest time wins).
    A stage mapped to null is left out, so an override can drop a profile's default stage.
    Empty here: the CRM's names live in its profile (``mappings/<crm>.yaml``).
    """

    modified: str | None = None
    #: Optional: the contact property holding the lead ID of the ad platform's lead form the
    #: contact came from (a Meta lead ad's ``leadgen_id``), sent with lead-stage conversions
    #: to the destinations that match on it. No default: HubSpot publishes no such property.
    lead_id: str | None = None
    mql: dict[str, str | None] = Field(default_factory=dict)
    sql: dict[str, str | None] = Field(default_factory=dict)

    def stages(self, milestone: str) -> dict[str, str]:
        """Stage value -> date-entered property, for ``mql`` or ``sql`` (nulls dropped)."""
        mapped: dict[str, str | None] = getattr(self, milestone)
        return {stage: prop for stage, prop in mapped.items() if prop}

    def is_mapped(self) -> bool:
        """Lifecycle stages can be pulled: a modified-time property and at least one stage."""
        return bool(self.modified) and any(self.stages(m) for m in MILESTONES)


class EventRule(_Strict):
    """When a deal or contact reaches a moment, send this event with this value."""

    name: str
    when: dict[str, Any]
    value: Literal["deal_amount", "lead_value"] | Decimal = "deal_amount"
    currency: str | None = None
    platforms: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("when")
    @classmethod
    def _known_lead_stage(cls, when: dict[str, Any]) -> dict[str, Any]:
        stage = when.get("lead_stage")
        if stage is not None and stage not in LEAD_STAGES:
            raise ValueError(f"lead_stage {stage!r} is not one of {', '.join(LEAD_STAGES)}")
        return when

    def is_deal_won(self) -> bool:
        """The rule fires on closed-won (valued at the deal amount by default)."""
        return self.when.get("deal_won") is True

    def lead_stage(self) -> str | None:
        """The lead stage the rule fires on (``when: {lead_stage: mql}``), if it is one."""
        stage = self.when.get("lead_stage")
        return str(stage) if stage is not None else None


class Writeback(_Strict):
    """Contact properties that receive first/last touch data."""

    group_name: str = "closedloop"
    properties: dict[str, str] = Field(default_factory=dict)


class MappingProfile(_Strict):
    """A whole profile."""

    #: The registry name of the CRM the profile reads (``platforms.CRM_SOURCES``).
    crm: str
    deal: DealFields
    contact: ContactFields

    @model_validator(mode="before")
    @classmethod
    def _crm_defaults(cls, data: Any) -> Any:
        """Fill what a profile leaves out from its CRM's bundled profile.

        The CRM defaults to the registry's first; its ``deal``/``contact`` field names come
        from ``mappings/<crm>.yaml``, so no CRM's property names live in ``connector/``.
        """
        if not isinstance(data, dict):
            return data
        crm = data.get("crm") or next(iter(platforms.CRM_SOURCES), None)
        if crm is None or crm not in platforms.CRM_SOURCES:
            return data  # validation names the bad value
        bundled = _bundled_fields(crm)
        merged = {**data, "crm": crm}
        for section in ("deal", "contact"):
            given = data.get(section)
            if given is None or isinstance(given, dict):
                merged[section] = {**bundled.get(section, {}), **(given or {})}
        return merged

    @field_validator("crm")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in platforms.CRM_SOURCES:
            known = ", ".join(platforms.CRM_SOURCES) or "none"
            raise ValueError(f"{value!r} is not a registered CRM (registered: {known})")
        return value

    won_stages: dict[str, list[str]] = Field(default_factory=dict)
    events: list[EventRule] = Field(default_factory=list)
    writeback: Writeback = Field(default_factory=Writeback)
    lifecycle: LifecycleMapping = Field(default_factory=LifecycleMapping)
    lead_values: LeadValueSettings = Field(default_factory=LeadValueSettings)

    def deal_properties(self) -> list[str]:
        """Every deal property the sync must request (stage-entered ones: see the source)."""
        fields = self.deal.model_dump(exclude={"stage_entered"}).values()
        return sorted({f for f in fields if f})

    def contact_properties(self) -> list[str]:
        """Every contact property the sync must request."""
        fields = self.contact.model_dump().values()
        return sorted({f for f in fields if f})

    def lifecycle_properties(self) -> list[str]:
        """Every contact property the lifecycle pull must request."""
        names = {self.contact.email, self.contact.lifecycle_stage, self.lifecycle.modified}
        names.add(self.lifecycle.lead_id)
        for milestone in MILESTONES:
            names.update(self.lifecycle.stages(milestone).values())
        return sorted(n for n in names if n)

    def lead_events(self) -> list[EventRule]:
        """The lead-stage rules, when the ``lead_values`` block turns them on."""
        if not self.lead_values.enabled:
            return []
        return [e for e in self.events if e.lead_stage() is not None]

    def won_event(self) -> EventRule | None:
        """The closed-won rule, if the profile sends one."""
        return next((e for e in self.events if e.is_deal_won()), None)


@functools.cache
def _bundled_fields(crm: str) -> dict[str, dict[str, Any]]:
    """The ``deal`` and ``contact`` sections of the CRM's bundled profile."""
    try:
        raw = _read_profile(crm)
    except ConfigError:
        return {}
    return {k: dict(raw.get(k) or {}) for k in ("deal", "contact")}


def load_profile(settings: Settings) -> MappingProfile:
    """The profile named by ``mapping.profile`` with ``mapping.overrides`` merged in."""
    name = settings.mapping.profile
    raw = _read_profile(name)
    merged = deep_merge(raw, settings.mapping.overrides)
    try:
        return MappingProfile.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(
            f"mapping.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"mapping profile {name!r} is invalid: {problems}") from None


def _read_profile(name: str) -> dict[str, Any]:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text(encoding="utf-8")
    else:
        try:
            text = resources.files("mappings").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
        except FileNotFoundError:
            available = sorted(
                p.name.removesuffix(".yaml")
                for p in resources.files("mappings").iterdir()
                if p.name.endswith(".yaml")
            )
            raise ConfigError(
                f"no mapping profile {name!r} (built in: {', '.join(available)}; or a .yaml path)",
                path="mapping.profile",
            ) from None
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"mapping profile {name!r} must be a mapping", path="mapping.profile")
    return data


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``; nested mappings merge, everything else replaces."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
