"""Microsoft Advertising destination: closed deals become offline conversions.

``ApplyOfflineConversions`` takes up to 1,000 conversions per request, each tied to an ad
click by its ``MicrosoftClickId`` (msclkid) or, with enhanced conversions, to a person by a
hashed email or phone; ``ApplyOfflineConversionAdjustments`` restates or retracts one,
identified as it was sent (click or hash, goal name, conversion time). Both answer one
request with per-item ``PartialErrors`` (by ``Index``), so one bad item never sinks the
others. Microsoft ignores a repeat of the same msclkid, goal and conversion time, so a resend
after a lost answer is harmless; that is why the conversion time is sent to the second, from
the stored row, and never re-derived.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from connector.errors import PermanentPlatformError, RetryablePlatformError
from platforms.base import (
    CONVERSION,
    RESTATEMENT,
    RETRACTION,
    Accepted,
    Destination,
    Hashing,
    Outcome,
    PlannedConversion,
    Prepared,
    Rejected,
    Retry,
    Skip,
    Wait,
)
from platforms.microsoft_ads import client
from platforms.microsoft_ads.hashing import MICROSOFT_HASHING
from platforms.microsoft_ads.settings import MicrosoftAdsSettings

log = logging.getLogger(__name__)

CLICK_KIND = "msclkid"
#: Microsoft refuses conversions whose click is older than this.
CLICK_WINDOW = timedelta(days=90)
#: Per-item error codes worth sending again: internal error, call rate exceeded.
TRANSIENT_ITEM_CODES = frozenset({0, 117})
ITEM_RETRY_SECONDS = 60.0
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")
ADJUST = {RESTATEMENT: "Restate", RETRACTION: "Retract"}


@dataclass(frozen=True)
class MicrosoftAdsPayload:
    """One item as the API's JSON names it; ``operation`` picks the endpoint.

    Plain data (no SDK model), so ``prepare`` never imports the SDK.
    """

    operation: str  # "conversions" | "adjustments"
    fields: dict[str, Any] = field(default_factory=dict)


class MicrosoftAdsDestination(Destination[MicrosoftAdsPayload]):
    """Offline conversions, restatements and retractions to Microsoft Advertising."""

    name: ClassVar[str] = "microsoft_ads"
    max_batch: ClassVar[int] = 1000
    click_kinds: ClassVar[tuple[str, ...]] = (CLICK_KIND,)
    hashing: ClassVar[Hashing | None] = MICROSOFT_HASHING
    identified_by: ClassVar[tuple[str, ...]] = (CLICK_KIND, "email_sha256", "phone_sha256")
    kinds: ClassVar[frozenset[str]] = frozenset({CONVERSION, RESTATEMENT, RETRACTION})
    #: Conversions and adjustments are two endpoints: never one request.
    groups_requests: ClassVar[bool] = True

    @classmethod
    def too_old(
        cls,
        settings: MicrosoftAdsSettings,
        kind: str,
        *,
        event_time: datetime,
        click_time: datetime | None,
        now: datetime,
    ) -> str | None:
        """Microsoft refuses a click older than 90 days (without its time: the conversion's)."""
        reference = _utc(click_time or event_time)
        if _utc(now) - reference > CLICK_WINDOW:
            what = "the click" if click_time else "the conversion"
            return f"{what} is older than Microsoft Advertising's {CLICK_WINDOW.days}-day window"
        return None

    @classmethod
    def horizon(cls, settings: MicrosoftAdsSettings, now: datetime) -> str:
        """Clicks (or, without a click time, conversions) of the last 90 days."""
        return (
            f"conversions whose click is after {_utc(now) - CLICK_WINDOW:%Y-%m-%d} "
            f"({CLICK_WINDOW.days}-day click window), and their restatements and retractions"
        )

    def __init__(
        self, settings: MicrosoftAdsSettings, *, dry_run: bool = False, timeout: float = 30.0
    ) -> None:
        super().__init__(settings, dry_run=dry_run, timeout=timeout)
        self.settings: MicrosoftAdsSettings = settings
        self._lock = threading.Lock()
        self._tokens: client.TokenSource | None = None
        self._api: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        """Get an access token and build the Campaign Management client."""
        with self._lock:
            if self._tokens is None:
                self._tokens = client.TokenSource(self.settings, timeout=self.timeout)
            if self._api is None:
                self._api = client.build_api(self.settings, self._tokens.token())

    def close(self) -> None:
        """Close the connection pool."""
        with self._lock:
            if self._api is not None:
                pool = getattr(self._api.api_client.rest_client, "pool_manager", None)
                if pool is not None:
                    pool.clear()
                self._api = None

    def group_key(self, prepared: Prepared[MicrosoftAdsPayload]) -> str:
        """Conversions and adjustments go to different endpoints."""
        return prepared.payload.operation

    # -- prepare -------------------------------------------------------------------------------
    def prepare(
        self, conversion: PlannedConversion, now: datetime
    ) -> Prepared[MicrosoftAdsPayload] | Skip | Wait:
        """Apply Microsoft's rules (goal, click window, identifiers) and build the item."""
        goal = str(conversion.options.get("conversion_name") or self.settings.conversion_name or "")
        if not goal:
            return Skip(
                "NO_CONVERSION_NAME",
                f"no offline conversion goal: set platforms.{self.name}.conversion_name or the "
                "mapping's conversion_name option",
            )
        if conversion.kind not in (CONVERSION, RESTATEMENT, RETRACTION):
            return Skip("UNSUPPORTED_KIND", f"Microsoft Advertising has no {conversion.kind!r}")
        ids = conversion.identifiers
        if ids.consent_ad_user_data is False:
            return Skip(
                "CONSENT_DENIED",
                "the person denied ad_user_data consent; Microsoft must not receive this "
                "conversion",
            )
        now, event_time = _utc(now), _seconds(conversion.event_time)
        click = ids.click if ids.click is not None and ids.click.kind == CLICK_KIND else None
        who: dict[str, Any] = {}
        if click is not None:
            who["MicrosoftClickId"] = click.value
        elif self.settings.enhanced_conversions:
            email = next((h for h in ids.email_sha256 if SHA256_HEX.match(h)), None)
            phone = next((h for h in ids.phone_sha256 if SHA256_HEX.match(h)), None)
            if email:
                who["HashedEmailAddress"] = email
            if phone:
                who["HashedPhoneNumber"] = phone
        if not who:
            hint = (
                ""
                if self.settings.enhanced_conversions or not (ids.email_sha256 or ids.phone_sha256)
                else f" (set platforms.{self.name}.enhanced_conversions to send the hashed "
                "email/phone it has)"
            )
            return Skip("NO_IDENTIFIERS", f"no msclkid and no hashed email or phone{hint}")
        click_time = _utc(click.time) if click is not None and click.time is not None else None
        if click_time is not None and event_time < click_time:
            return Skip(
                "CONVERSION_PRECEDES_CLICK",
                f"the conversion ({event_time.isoformat()}) is before its click "
                f"({click_time.isoformat()})",
            )
        reason = self.too_old(
            self.settings, conversion.kind, event_time=event_time, click_time=click_time, now=now
        )
        if reason:
            return Skip("CLICK_TOO_OLD", reason)
        if event_time > now:
            return Wait(until=event_time, reason="the conversion time is in the future")
        currency = (conversion.currency or "").strip().upper()
        if conversion.kind != RETRACTION and not CURRENCY.match(currency):
            return Skip("INVALID_CURRENCY", f"{currency!r} is not an ISO 4217 currency code")
        base = {**who, "ConversionName": goal, "ConversionTime": event_time}
        if conversion.kind == CONVERSION:
            item = {
                **base,
                "ConversionValue": float(conversion.value),
                "ConversionCurrencyCode": currency,
            }
            return Prepared(conversion, MicrosoftAdsPayload("conversions", item))
        item = {**base, "AdjustmentType": ADJUST[conversion.kind], "AdjustmentTime": _seconds(now)}
        if conversion.kind == RESTATEMENT:
            item["AdjustmentValue"] = float(conversion.value)
            item["AdjustmentCurrencyCode"] = currency
        return Prepared(conversion, MicrosoftAdsPayload("adjustments", item))

    def platform_key(self, prepared: Prepared[MicrosoftAdsPayload]) -> str:
        """Microsoft's identity of a conversion: click (or hash), goal name, conversion time.

        Microsoft never receives our dedup key; it ignores a repeat of the same click, goal
        and time, so that triple is the key it holds the conversion under.
        """
        item = prepared.payload.fields
        who = (
            item.get("MicrosoftClickId")
            or item.get("HashedEmailAddress")
            or item.get("HashedPhoneNumber")
            or ""
        )
        return f"{who}|{item['ConversionName']}|{item['ConversionTime'].isoformat()}"

    # -- send ----------------------------------------------------------------------------------
    def send(self, batch: list[Prepared[MicrosoftAdsPayload]]) -> list[Outcome]:
        """One request per operation (normally one: see ``group_key``)."""
        if self.dry_run:
            raise PermanentPlatformError(
                "Microsoft Advertising has no validate-only mode for offline conversions; a "
                "dry run sends nothing",
                platform=self.name,
                code="DRY_RUN",
            )
        if len(batch) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} items per request, got {len(batch)}")
        outcomes: list[Outcome | None] = [None] * len(batch)
        for operation in ("conversions", "adjustments"):
            indexes = [i for i, p in enumerate(batch) if p.payload.operation == operation]
            if indexes:
                answers = self._apply(operation, [batch[i].payload.fields for i in indexes])
                for i, outcome in zip(indexes, answers, strict=True):
                    outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def _apply(self, operation: str, items: list[dict[str, Any]]) -> list[Outcome]:
        """One API call; an expired token is refreshed and the call made once more."""
        self.setup()
        assert self._tokens is not None
        client.set_token(self._api.api_client, self._tokens.token())  # renewed before expiry
        return client.once_more_on_expiry(
            self._tokens, self._api.api_client, lambda: self._call(operation, items)
        )

    def _call(self, operation: str, items: list[dict[str, Any]]) -> list[Outcome]:
        from openapi_client.exceptions import ApiException
        from openapi_client.models.campaign.apply_offline_conversion_adjustments_request import (
            ApplyOfflineConversionAdjustmentsRequest,
        )
        from openapi_client.models.campaign.apply_offline_conversions_request import (
            ApplyOfflineConversionsRequest,
        )
        from openapi_client.models.campaign.offline_conversion import OfflineConversion
        from openapi_client.models.campaign.offline_conversion_adjustment import (
            OfflineConversionAdjustment,
        )
        from urllib3.exceptions import HTTPError

        try:
            if operation == "conversions":
                answer = self._api.apply_offline_conversions_with_http_info(
                    ApplyOfflineConversionsRequest(
                        OfflineConversions=[OfflineConversion(**item) for item in items]
                    ),
                    _request_timeout=float(self.timeout),
                )
            else:
                answer = self._api.apply_offline_conversion_adjustments_with_http_info(
                    ApplyOfflineConversionAdjustmentsRequest(
                        OfflineConversionAdjustments=[
                            OfflineConversionAdjustment(**item) for item in items
                        ]
                    ),
                    _request_timeout=float(self.timeout),
                )
        except ApiException as error:
            fault = client.read_fault(error.status or 0, error.body, error.headers or {})
            if client.TOKEN_EXPIRED_CODE in fault.codes:
                raise client.TokenExpired(fault) from None
            if fault.batch_errors and not fault.errors:
                return _item_outcomes(len(items), fault.batch_errors, whole_failed=True)
            raise client.request_error(fault) from None
        except HTTPError as error:
            raise RetryablePlatformError(
                f"no answer from Microsoft Advertising ({type(error).__name__}); resending is "
                "safe because Microsoft ignores a repeated msclkid, goal and time",
                platform=self.name,
                code="connection",
                retry_after=30.0,
            ) from None
        errors = [
            (int(e.index or 0), e.code, str(e.error_code or ""), str(e.message or ""))
            for e in (getattr(answer.data, "partial_errors", None) or [])
            if e is not None
        ]
        headers = answer.headers or {}
        tracking = headers.get("TrackingId") if hasattr(headers, "get") else None
        return _item_outcomes(len(items), tuple(errors), whole_failed=False, ref=tracking)


def _item_outcomes(
    count: int,
    errors: tuple[tuple[int, int | None, str, str], ...],
    *,
    whole_failed: bool,
    ref: str | None = None,
) -> list[Outcome]:
    """One outcome per item from the errors by ``Index``.

    ``whole_failed``: the request failed as a whole because of the named items, so the others
    were not applied and are sent again. ``ref``: the request's ``TrackingId``, which
    Microsoft support asks for.
    """
    default: Outcome = (
        Retry("NOT_APPLIED", "the request failed because of other items", ITEM_RETRY_SECONDS)
        if whole_failed
        else Accepted(ref=ref)
    )
    outcomes: list[Outcome] = [default] * count
    for index, code, name, message in errors:
        if not 0 <= index < count:
            log.warning("microsoft_ads: error for item %d of %d: %s", index, count, name)
            continue
        label = name or str(code)
        if code in TRANSIENT_ITEM_CODES:
            outcomes[index] = Retry(label, message, ITEM_RETRY_SECONDS)
        else:
            outcomes[index] = Rejected(label, message)
    return outcomes


def _utc(moment: datetime) -> datetime:
    """Aware UTC (a naive time is UTC, as the database stores it)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _seconds(moment: datetime) -> datetime:
    """UTC to the second: the conversion's identity for dedup and adjustments."""
    return _utc(moment).replace(microsecond=0)
