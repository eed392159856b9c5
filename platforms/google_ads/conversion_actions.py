"""The account's conversion actions and customer settings, read with GAQL through ``google-ads``.

Shared by ``closedloop google-ads conversion-actions`` (so the admin copies an ID instead of
guessing) and by the doctor (is the configured action there, enabled, of an upload type, with
the configured click window; are the customer-data terms accepted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from platforms.google_ads.ads_api import AdsApiUploader
from platforms.google_ads.settings import GoogleAdsSettings

ACTION_FIELDS = (
    "conversion_action.id",
    "conversion_action.name",
    "conversion_action.type",
    "conversion_action.status",
    "conversion_action.click_through_lookback_window_days",
    "conversion_action.counting_type",
)
CUSTOMER_FIELDS = (
    "customer.id",
    "customer.descriptive_name",
    "customer.conversion_tracking_setting.accepted_customer_data_terms",
)


@dataclass(frozen=True)
class ConversionAction:
    """One row of ``conversion_action``, enum values by name (``UPLOAD_CLICKS``, ``ENABLED``)."""

    id: str
    name: str
    type: str
    status: str
    click_window_days: int
    counting: str

    def as_row(self) -> dict[str, Any]:
        """The row as the CLI prints it."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "click_window_days": self.click_window_days,
            "counting": self.counting,
        }


@dataclass(frozen=True)
class CustomerInfo:
    """What doctor reads from ``customer``."""

    id: str
    name: str
    accepted_customer_data_terms: bool


def _search(api: AdsApiUploader, query: str) -> list[Any]:
    """Run one GAQL query through SearchStream; whole-request errors become PlatformErrors."""
    service = api.service("GoogleAdsService")

    def stream() -> list[Any]:
        rows: list[Any] = []
        for batch in service.search_stream(
            customer_id=api.customer_id, query=query, timeout=api.timeout
        ):
            rows.extend(batch.results)
        return rows

    return list(api.call(stream))


def conversion_actions(
    settings: GoogleAdsSettings, *, action_id: str | None = None, timeout: float = 30.0
) -> list[ConversionAction]:
    """The customer's conversion actions (or only ``action_id``), ordered by ID."""
    query = f"SELECT {', '.join(ACTION_FIELDS)} FROM conversion_action"
    if action_id is not None:
        if not action_id.isdigit():
            return []
        query += f" WHERE conversion_action.id = {int(action_id)}"
    query += " ORDER BY conversion_action.id"
    api = AdsApiUploader(settings, timeout=timeout)
    try:
        rows = _search(api, query)
    finally:
        api.close()
    return [_action(row.conversion_action) for row in rows]


def customer_info(settings: GoogleAdsSettings, *, timeout: float = 30.0) -> CustomerInfo | None:
    """The operating customer's name and customer-data-terms flag (None: no row)."""
    api = AdsApiUploader(settings, timeout=timeout)
    try:
        rows = _search(api, f"SELECT {', '.join(CUSTOMER_FIELDS)} FROM customer")
    finally:
        api.close()
    if not rows:
        return None
    customer = rows[0].customer
    return CustomerInfo(
        str(customer.id),
        customer.descriptive_name,
        bool(customer.conversion_tracking_setting.accepted_customer_data_terms),
    )


def _action(action: Any) -> ConversionAction:
    return ConversionAction(
        id=str(action.id),
        name=action.name,
        type=action.type_.name,
        status=action.status.name,
        click_window_days=int(action.click_through_lookback_window_days),
        counting=action.counting_type.name,
    )
