"""GAQL rows for ``conversion_action`` and for the ``customer`` settings, in the real shapes.

``GoogleAdsService.SearchStream`` in :mod:`platforms.google_ads.sandbox.ads` hands queries on
these resources here. Tests shape the account through :class:`ActionCatalog`: an action's
name, type, status and counting type, and whether the customer accepted the customer-data
terms (``customer.conversion_tracking_setting.accepted_customer_data_terms``), so that doctor
meets each failure the way it would meet it at Google.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from google.ads.googleads.v26.enums.types.conversion_action_counting_type import (
    ConversionActionCountingTypeEnum,
)
from google.ads.googleads.v26.enums.types.conversion_action_status import (
    ConversionActionStatusEnum,
)
from google.ads.googleads.v26.enums.types.conversion_action_type import ConversionActionTypeEnum

#: Fields of ``conversion_action`` the sandbox serves (GAQL names).
ACTION_FIELDS = frozenset(
    {
        "conversion_action.id",
        "conversion_action.name",
        "conversion_action.resource_name",
        "conversion_action.type",
        "conversion_action.status",
        "conversion_action.click_through_lookback_window_days",
        "conversion_action.counting_type",
    }
)
#: Settings of ``customer`` the sandbox serves beside the spend fields.
CUSTOMER_FIELDS = frozenset({"customer.conversion_tracking_setting.accepted_customer_data_terms"})
#: ``conversion_action`` may be selected with ``customer`` fields (its attributed resource).
RESOURCES = {"conversion_action": {"conversion_action", "customer"}}

_COUNTING = ConversionActionCountingTypeEnum.ConversionActionCountingType
_ENUMS: dict[str, Any] = {
    "conversion_action.type": ConversionActionTypeEnum.ConversionActionType,
    "conversion_action.status": ConversionActionStatusEnum.ConversionActionStatus,
    "conversion_action.counting_type": _COUNTING,
}


@dataclass
class ActionMeta:
    """What Google holds about a conversion action besides its click window."""

    name: str
    type: str = "UPLOAD_CLICKS"
    status: str = "ENABLED"
    counting_type: str = "ONE_PER_CLICK"


@dataclass
class ActionCatalog:
    """Conversion-action metadata and customer settings, keyed like the server's state."""

    actions: dict[tuple[str, str], ActionMeta] = field(default_factory=dict)
    #: Customers that accepted the customer-data terms (all, unless a test says otherwise).
    terms_refused: set[str] = field(default_factory=set)

    def meta(self, customer_id: str, action_id: str) -> ActionMeta:
        """The action's metadata (a default named after its ID when never set)."""
        key = (customer_id, action_id)
        if key not in self.actions:
            self.actions[key] = ActionMeta(name=f"Offline conversion {action_id}")
        return self.actions[key]

    def set_action(self, customer_id: str, action_id: str, **changes: str) -> None:
        """Change an action's ``name``, ``type``, ``status`` or ``counting_type``."""
        meta = self.meta(customer_id, action_id)
        for key, value in changes.items():
            if key in ("type", "status", "counting_type"):
                _ENUMS[f"conversion_action.{key}"][value]
            setattr(meta, key, value)

    def accept_terms(self, customer_id: str, accepted: bool) -> None:
        """Whether ``customer_id`` accepted the customer-data terms."""
        (self.terms_refused.discard if accepted else self.terms_refused.add)(customer_id)


def is_settings_query(resource: str, select: list[str]) -> bool:
    """A ``customer`` query without metrics or segments: one row of settings, not spend."""
    return resource == "customer" and not any(
        f.startswith(("metrics.", "segments.")) for f in select
    )


def customer_values(catalog: ActionCatalog, customer: Any) -> dict[str, Any]:
    """The ``customer`` fields of one account (``customer`` is the server's record)."""
    cid = customer.customer_id
    return {
        "customer.id": int(cid),
        "customer.resource_name": f"customers/{cid}",
        "customer.currency_code": customer.currency,
        "customer.descriptive_name": customer.name,
        "customer.conversion_tracking_setting.accepted_customer_data_terms": (
            cid not in catalog.terms_refused
        ),
    }


def action_values(
    catalog: ActionCatalog, customer: Any, actions: dict[tuple[str, str], Any]
) -> list[dict[str, Any]]:
    """One value dict per conversion action of ``customer`` (``actions``: the server's)."""
    rows = []
    for (cid, action_id), action in actions.items():
        if cid != customer.customer_id:
            continue
        meta = catalog.meta(cid, action_id)
        rows.append(
            customer_values(catalog, customer)
            | {
                "conversion_action.id": int(action_id),
                "conversion_action.name": meta.name,
                "conversion_action.resource_name": f"customers/{cid}/conversionActions/{action_id}",
                "conversion_action.type": meta.type,
                "conversion_action.status": meta.status,
                "conversion_action.click_through_lookback_window_days": action.click_window_days,
                "conversion_action.counting_type": meta.counting_type,
            }
        )
    return rows


def wire_value(path: str, value: Any) -> Any:
    """An enum field's name as the SDK's enum member; anything else unchanged."""
    enum = _ENUMS.get(path)
    return enum[value] if enum is not None and isinstance(value, str) else value


def upload_refusal(
    catalog: ActionCatalog, customer_id: str, action_id: str
) -> tuple[str, str] | None:
    """Google's ConversionUploadError for a click upload to this action, if it refuses one.

    An action that is not ENABLED is not found for uploads; one of another type than
    UPLOAD_CLICKS cannot take click conversions.
    """
    meta = catalog.actions.get((customer_id, action_id))
    if meta is None:
        return None
    if meta.status != "ENABLED":
        return (
            "NO_CONVERSION_ACTION_FOUND",
            "The conversion action can't be found, or is not enabled.",
        )
    if meta.type != "UPLOAD_CLICKS":
        return (
            "INVALID_CONVERSION_ACTION_TYPE",
            "The conversion action's type does not accept click conversion uploads.",
        )
    return None


def data_manager_refusal(
    catalog: ActionCatalog, customer_id: str, action_id: str
) -> tuple[str, str] | None:
    """The Data Manager ``ErrorReason`` for the same refusals (reason for status unverified)."""
    meta = catalog.actions.get((customer_id, action_id))
    if meta is None:
        return None
    if meta.status != "ENABLED":
        return "INVALID_CONVERSION_ACTION_ID", f"conversion action {action_id} is {meta.status}"
    if meta.type != "UPLOAD_CLICKS":
        return "INVALID_CONVERSION_ACTION_TYPE", f"conversion action {action_id} is {meta.type}"
    return None
