"""What HubSpot's webhook calls look like: its v3 signature and its change-event format.

``connector/sync/webhook.py`` serves ``POST /webhooks/<crm>`` for any CRM that declares a
webhook in the registry; everything HubSpot-specific about the call is here.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from platforms.crm import WebhookRefusal
from platforms.hubspot.webhook_signature import (
    MAX_AGE_MS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    v3_signature,
)

DEAL_OBJECT_TYPE = "0-3"
#: A millisecond timestamp as HubSpot sends it (bounded, so int() stays cheap).
_MILLIS = re.compile(r"[0-9]{1,16}")


class HubSpotWebhook:
    """HubSpot's v3-signed change notifications (HMAC-SHA256, keyed with the app secret)."""

    summary: ClassVar[str] = "HubSpot webhook (v3 signature): sync the changed deals now"
    headers: ClassVar[tuple[str, ...]] = (SIGNATURE_HEADER, TIMESTAMP_HEADER)
    secret_field: ClassVar[str] = "client_secret"

    @classmethod
    def refusal(
        cls, secret: str, method: str, uri: str, body: str, headers: Mapping[str, str], now_ms: int
    ) -> WebhookRefusal | None:
        """Why the call is refused (401), or None when the signature matches and is fresh.

        Timestamps older than five minutes are refused so a captured call cannot be replayed.
        """
        signature = headers.get(SIGNATURE_HEADER)
        stamp = headers.get(TIMESTAMP_HEADER, "")
        # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then refuses.
        if not signature or not _MILLIS.fullmatch(stamp):
            return WebhookRefusal(
                "unauthorized", f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}"
            )
        if abs(now_ms - int(stamp)) > MAX_AGE_MS:
            return WebhookRefusal(
                "stale_request", "the request timestamp is more than 5 minutes old"
            )
        expected = v3_signature(secret, method, uri, body, int(stamp))
        # Compared as bytes: a header with non-ASCII characters is a wrong signature.
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            return WebhookRefusal("bad_signature", "the v3 signature does not match")
        return None

    @classmethod
    def deal_ids(cls, events: Any, watched: set[str]) -> list[str] | None:
        """Deals created, restored, or with a ``watched`` property changed; None: not a list.

        HubSpot posts a JSON array of events (``subscriptionType`` ``deal.propertyChange``,
        ``objectId``, ``propertyName``...), several per call.
        """
        if not isinstance(events, list):
            return None
        ids: set[str] = set()
        for event in events:
            if not isinstance(event, dict) or event.get("objectId") is None:
                continue
            kind = str(event.get("subscriptionType", ""))
            is_deal = kind.startswith("deal.") or event.get("objectTypeId") == DEAL_OBJECT_TYPE
            if not is_deal:
                continue
            action = kind.rpartition(".")[2]
            if action in ("creation", "restore") or (
                action == "propertyChange" and event.get("propertyName") in watched
            ):
                ids.add(str(event["objectId"]))
        return sorted(ids)
