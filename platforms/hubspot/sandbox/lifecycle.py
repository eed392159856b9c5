"""HubSpot's lifecycle stage rules, for the sandbox.

What HubSpot documents and the sandbox enforces:

- ``lifecyclestage`` is an enumeration: a value outside the configured stages is a 400
  ``VALIDATION_ERROR`` (``INVALID_OPTION``).
- Stages only move forward. Setting an earlier stage is accepted (2xx) but leaves the value
  unchanged; to move backward a client first clears the property (``""``), then sets the
  earlier stage in a separate request. (Contacts API reference, "Lifecycle Stage ... is not
  designed to move backwards"; knowledge base, "Use lifecycle stages".)
- Entering a stage stamps that stage's date-entered property (``hs_lifecyclestage_<stage>_date``
  for the default stages) with the time of the change, unless the same request writes that
  property itself (imports do). A skipped stage's property stays empty; re-entering a stage
  after a clear stamps it again.
"""

from __future__ import annotations

import json

#: HubSpot's default lifecycle stages, in their order.
LIFECYCLE_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
STAGE_PROPERTY = "lifecyclestage"
#: Default stage -> the contact property HubSpot stamps when a contact enters it.
DATE_ENTERED: dict[str, str] = {s: f"hs_lifecyclestage_{s}_date" for s in LIFECYCLE_STAGES}
#: The date-entered properties as sandbox contact property definitions: name -> (type, group).
LIFECYCLE_DATE_PROPERTIES: dict[str, tuple[str, str]] = {
    name: ("datetime", "contactinformation") for name in DATE_ENTERED.values()
}


class LifecycleRules:
    """The portal's lifecycle stages in order, and what a write to ``lifecyclestage`` does."""

    def __init__(self) -> None:
        self.stages: list[str] = list(LIFECYCLE_STAGES)
        self.date_entered: dict[str, str] = dict(DATE_ENTERED)

    def add_stage(self, stage_id: str, date_property: str, before: str | None = None) -> None:
        """A custom stage (as created in HubSpot's settings), before ``before`` or last."""
        if stage_id in self.stages:
            raise ValueError(f"lifecycle stage {stage_id!r} already exists")
        at = self.stages.index(before) if before is not None else len(self.stages)
        self.stages.insert(at, stage_id)
        self.date_entered[stage_id] = date_property

    def apply(
        self, current: dict[str, str | None], values: dict[str, str | None], stamp: str
    ) -> dict[str, str | None]:
        """The values HubSpot actually writes when ``values`` are sent for ``current``.

        Raises the sandbox's ``HubSpotError`` (400) for a stage that does not exist.
        """
        if STAGE_PROPERTY not in values:
            return values
        new = values[STAGE_PROPERTY]
        if new in (None, ""):
            return values  # clearing is always allowed; it is how a stage moves back
        if new not in self.stages:
            raise _invalid_option(new, self.stages)
        old = current.get(STAGE_PROPERTY)
        out = dict(values)
        if old in self.stages and self.stages.index(new) < self.stages.index(old):
            del out[STAGE_PROPERTY]  # backward without a clear: accepted, silently not applied
            return out
        prop = self.date_entered.get(new)
        if new != old and prop and prop not in values:
            out[prop] = stamp
        return out


def _invalid_option(value: str, stages: list[str]) -> Exception:
    from platforms.hubspot.sandbox import HubSpotError  # the sandbox imports this module

    message = f"{value} was not one of the allowed options: [{', '.join(stages)}]"
    problem = {
        "isValid": False,
        "message": message,
        "error": "INVALID_OPTION",
        "name": STAGE_PROPERTY,
        "localizedErrorMessage": message,
    }
    return HubSpotError(
        400,
        "VALIDATION_ERROR",
        f"Property values were not valid: {json.dumps([problem])}",
        errors=[
            {
                "message": message,
                "code": "INVALID_OPTION",
                "context": {"propertyName": [STAGE_PROPERTY]},
            }
        ],
    )
