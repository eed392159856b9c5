"""Google Ads destination: Data Manager API by default, the Google Ads API where it must.

Conversions go to Data Manager ``IngestEvents`` (``api: data_manager``), or to the Google Ads
API ``UploadClickConversions`` for accounts Google still allowlists (``api: google_ads``).
Restatements and retractions always use the Google Ads API ``UploadConversionAdjustments``
keyed by ``order_id``: the Data Manager API in google-ads-datamanager 0.9.4 has no adjustment
call (its ``Event.last_updated_timestamp`` does not restate or retract a conversion).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from google.ads import datamanager_v1 as dm

from connector.errors import PermanentPlatformError
from platforms.base import (
    CONVERSION,
    RESTATEMENT,
    RETRACTION,
    ConfirmSchedule,
    Destination,
    Hashing,
    Outcome,
    PlannedConversion,
    Prepared,
    Retry,
    Skip,
    Validation,
    Verdict,
    Wait,
)
from platforms.google_ads import client as sdk
from platforms.google_ads.datamanager import DataManagerSender, build_event, utc
from platforms.google_ads.settings import GoogleAdsSettings
from platforms.google_hashing import GOOGLE_HASHING

#: Google counts no click younger than this (TOO_RECENT_EVENT / TOO_RECENT_CLICK).
MIN_CLICK_AGE = timedelta(hours=6)
#: Google Ads imports conversions at most 90 days after the click, whatever the action's window.
MAX_IMPORT_AGE = timedelta(days=90)
#: How long Data Manager request statuses are polled before the outbox gives up (Google's
#: diagnostics guide: a status can take up to 24 hours to be final).
STATUS_GIVE_UP = timedelta(hours=24)
MAX_USER_IDENTIFIERS = 10
CLICK_FIELDS = ("gclid", "gbraid", "wbraid")
_SHA256_HEX = re.compile(r"^[0-9a-fA-F]{64}$")

DATA_MANAGER, ADS_API_CONVERSION, ADS_API_ADJUSTMENT = (
    "data_manager",
    "ads_api_conversion",
    "ads_api_adjustment",
)


@dataclass(frozen=True)
class GoogleAdsPayload:
    """Which API sends the item, to which conversion action, and the Data Manager event."""

    route: str
    conversion_action_id: str
    event: dm.Event | None = None


class GoogleAdsDestination(Destination[GoogleAdsPayload]):
    """Offline conversions, restatements and retractions to Google Ads."""

    name: ClassVar[str] = "google_ads"
    max_batch: ClassVar[int] = 2000
    click_kinds: ClassVar[tuple[str, ...]] = ("gclid", "gbraid", "wbraid")
    hashing: ClassVar[Hashing | None] = GOOGLE_HASHING
    identified_by: ClassVar[tuple[str, ...]] = (
        "gclid",
        "gbraid",
        "wbraid",
        "email_sha256",
        "phone_sha256",
    )
    kinds: ClassVar[frozenset[str]] = frozenset({CONVERSION, RESTATEMENT, RETRACTION})
    #: One request per route and conversion action (one Data Manager destination each).
    groups_requests: ClassVar[bool] = True

    @classmethod
    def too_old(
        cls,
        settings: GoogleAdsSettings,
        kind: str,
        *,
        event_time: datetime,
        click_time: datetime | None,
        now: datetime,
    ) -> str | None:
        """Google refuses conversions after the click window and adjustments after 54 days."""
        if kind != CONVERSION:
            if now - event_time > timedelta(days=settings.adjustment_window_days):
                return (
                    f"Google Ads adjusts conversions up to {settings.adjustment_window_days} "
                    "days old (CONVERSION_EXPIRED)"
                )
            return None
        reference = click_time or event_time
        if now - reference > timedelta(days=settings.click_window_days):
            what = "the click" if click_time else "the conversion"
            return (
                f"{what} is older than the Google Ads click window of "
                f"{settings.click_window_days} days (EXPIRED_EVENT)"
            )
        return None

    @classmethod
    def horizon(cls, settings: GoogleAdsSettings, now: datetime) -> str:
        """What a replay can still deliver: clicks in the window, adjustments within 54 days."""
        cutoff = now - timedelta(days=settings.click_window_days)
        adjust = now - timedelta(days=settings.adjustment_window_days)
        return (
            f"conversions whose click is after {cutoff:%Y-%m-%d} (click window "
            f"{settings.click_window_days} days); restatements and retractions of conversions "
            f"after {adjust:%Y-%m-%d} ({settings.adjustment_window_days} days)"
        )

    def __init__(
        self, settings: GoogleAdsSettings, *, dry_run: bool = False, timeout: float = 30.0
    ) -> None:
        super().__init__(settings, dry_run=dry_run, timeout=timeout)
        self.settings: GoogleAdsSettings = settings
        self._lock = threading.Lock()
        self._credentials: Any = None
        self._client: Any = None
        self._uploader: Any = None

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        """Build the client of the configured API (others are built on first use)."""
        if self.settings.api == "data_manager":
            self._ingestion_client()

    def close(self) -> None:
        """Close gRPC channels."""
        with self._lock:
            if self._client is not None:
                self._client.transport.close()
                self._client = None
            if self._uploader is not None and hasattr(self._uploader, "close"):
                self._uploader.close()
            self._uploader = None

    def group_key(self, prepared: Prepared[GoogleAdsPayload]) -> str:
        """Items of one route and conversion action share a request."""
        return f"{prepared.payload.route}:{prepared.payload.conversion_action_id}"

    def confirmation(self) -> ConfirmSchedule:
        """Data Manager processes ingests asynchronously: ask ``status_check_minutes`` after.

        Then with backoff (the outbox doubles the wait) until a final status, for up to 24
        hours. Google Ads API uploads answer final outcomes in ``send`` and never confirm.
        """
        return ConfirmSchedule(
            first_seconds=self.settings.status_check_minutes * 60,
            give_up_seconds=STATUS_GIVE_UP.total_seconds(),
        )

    def confirm(self, refs: list[str]) -> dict[str, Verdict]:
        """The verdict of each Data Manager ``request_id``: one RetrieveRequestStatus each."""
        return self._data_manager(dry_run=False).verdicts(refs)

    def follow_up_requests(self, group_key: str) -> int:
        """A Data Manager batch costs one ``RetrieveRequestStatus`` after its ``IngestEvents``.

        IngestEvents only says the request was accepted for processing; which events then
        failed, and why, is answered by RetrieveRequestStatus, whose request carries a single
        ``request_id`` (no batched look-up exists), so one per ingest is the least that keeps
        the failure reasons: the outbox makes it once Google's status is due (30 minutes
        after the ingest; more only while Google still answers PROCESSING), never right after
        the ingest, and deferring changes when it is made, not how many. Google's diagnostics guide,
        https://developers.google.com/data-manager/api/devguides/diagnostics ("A
        RetrieveRequestStatusRequest requires a single request_id. Send a separate status
        request for each request ID"), and the SDK's ``RetrieveRequestStatusRequest`` (one
        ``request_id`` field). Google Ads API uploads answer per item in the send itself.
        """
        return 1 if group_key.startswith(f"{DATA_MANAGER}:") and not self.dry_run else 0

    # -- prepare -------------------------------------------------------------------------------
    def prepare(
        self, conversion: PlannedConversion, now: datetime
    ) -> Prepared[GoogleAdsPayload] | Skip | Wait:
        """Apply Google's rules (click age, window, consent, identifiers) and build the payload."""
        action_id = str(
            conversion.options.get("conversion_action_id")
            or self.settings.conversion_action_id
            or ""
        )
        if not action_id:
            return Skip(
                "NO_CONVERSION_ACTION",
                "no conversion action: set platforms.google_ads.conversion_action_id or the "
                "mapping's conversion_action_id option",
            )
        if conversion.kind in (RESTATEMENT, RETRACTION):
            return self._prepare_adjustment(conversion, action_id, now)
        if conversion.kind != CONVERSION:
            return Skip("UNSUPPORTED_KIND", f"Google Ads has no {conversion.kind!r} upload")
        return self._prepare_conversion(conversion, action_id, now)

    def _prepare_adjustment(
        self, conversion: PlannedConversion, action_id: str, now: datetime
    ) -> Prepared[GoogleAdsPayload] | Skip:
        if self.settings.developer_token is None:
            return Skip(
                "DEVELOPER_TOKEN_MISSING",
                f"Google Ads {conversion.kind}s go through the Google Ads API "
                "(UploadConversionAdjustments; the Data Manager API has no adjustments): set "
                "platforms.google_ads.developer_token to send them",
            )
        if not conversion.adjusts_key:
            return Skip("ADJUSTS_KEY_MISSING", "no order_id of the conversion to adjust")
        window = timedelta(days=self.settings.adjustment_window_days)
        if utc(now) - utc(conversion.event_time) > window:
            return Skip(
                "CONVERSION_EXPIRED",
                f"Google Ads adjusts conversions up to {window.days} days old "
                "(platforms.google_ads.adjustment_window_days)",
            )
        return Prepared(conversion, GoogleAdsPayload(ADS_API_ADJUSTMENT, action_id))

    def _prepare_conversion(
        self, conversion: PlannedConversion, action_id: str, now: datetime
    ) -> Prepared[GoogleAdsPayload] | Skip | Wait:
        ids = conversion.identifiers
        now, event_time = utc(now), utc(conversion.event_time)
        click_field = next((name for name in CLICK_FIELDS if getattr(ids, name)), None)
        emails, phones = _hashes(ids.email_sha256), _hashes(ids.phone_sha256)
        if click_field in ("gbraid", "wbraid"):
            # Google refuses user identifiers next to a braid (VALUE_MUST_BE_UNSET).
            emails, phones = [], []
        emails = emails[:MAX_USER_IDENTIFIERS]
        phones = phones[: MAX_USER_IDENTIFIERS - len(emails)]
        if click_field is None and not emails and not phones:
            return Skip(
                "NO_IDENTIFIERS",
                "no gclid, gbraid or wbraid and no hashed email or phone: Google cannot match it",
            )
        if ids.consent_ad_user_data is False:
            return Skip(
                "CONSENT_DENIED",
                "the person denied ad_user_data consent; Google must not receive this conversion",
            )
        if click_field is not None and ids.click_time is not None:
            click_time = utc(ids.click_time)
            window = timedelta(days=self.settings.click_window_days)
            if event_time < click_time:
                return Skip(
                    "CONVERSION_PRECEDES_CLICK",
                    f"the conversion ({event_time.isoformat()}) is before its click "
                    f"({click_time.isoformat()})",
                )
            if now - click_time > min(window, MAX_IMPORT_AGE):
                return Skip(
                    "EXPIRED_EVENT",
                    f"the click is older than the {window.days}-day click window "
                    "(platforms.google_ads.click_window_days)",
                )
            if now - click_time < MIN_CLICK_AGE:
                return Wait(
                    until=click_time + MIN_CLICK_AGE,
                    reason="Google accepts a conversion only 6 hours after its click",
                )
        if now - event_time > MAX_IMPORT_AGE:
            return Skip("EVENT_TOO_OLD", "Google Ads imports conversions up to 90 days old")
        if event_time > now:
            return Wait(until=event_time, reason="the conversion time is in the future")
        if self.settings.api == "google_ads":
            return Prepared(conversion, GoogleAdsPayload(ADS_API_CONVERSION, action_id))
        event = build_event(conversion, click_field=click_field, emails=emails, phones=phones)
        return Prepared(conversion, GoogleAdsPayload(DATA_MANAGER, action_id, event))

    # -- send ----------------------------------------------------------------------------------
    def send(self, batch: list[Prepared[GoogleAdsPayload]]) -> list[Outcome]:
        """One request per route and conversion action (normally one: see ``group_key``)."""
        return self._upload(batch, validate_only=self.dry_run)

    def validate(self, batch: list[Prepared[GoogleAdsPayload]]) -> list[Validation]:
        """The same requests with ``validate_only``: Google checks everything, stores nothing."""
        return list(self._upload(batch, validate_only=True))

    def _upload(
        self, batch: list[Prepared[GoogleAdsPayload]], *, validate_only: bool
    ) -> list[Outcome]:
        groups: dict[tuple[str, str], list[int]] = {}
        for index, prepared in enumerate(batch):
            key = (prepared.payload.route, prepared.payload.conversion_action_id)
            groups.setdefault(key, []).append(index)
        outcomes: list[Outcome | None] = [None] * len(batch)
        for (route, action_id), indices in groups.items():
            items = [batch[i] for i in indices]
            sent = self._send_route(route, action_id, items, validate_only)
            for index, outcome in zip(indices, sent, strict=True):
                outcomes[index] = outcome
        return [o for o in outcomes if o is not None]

    def _data_manager(self, *, dry_run: bool) -> DataManagerSender:
        """A Data Manager sender for this account, its OAuth token fresh."""
        sdk.ensure_token(self._datamanager_credentials(), self.timeout)
        return DataManagerSender(
            self._ingestion_client,
            customer_id=self._customer_id(),
            login_customer_id=self.settings.login_customer_id,
            timeout=self.timeout,
            dry_run=dry_run,
        )

    def _send_route(
        self,
        route: str,
        action_id: str,
        items: list[Prepared[GoogleAdsPayload]],
        validate_only: bool,
    ) -> list[Outcome]:
        if route == DATA_MANAGER:
            sender = self._data_manager(dry_run=validate_only)
            return sender.send([p.payload.event for p in items], action_id)  # type: ignore[misc]
        uploader = self._ads_uploader()
        if uploader is None:
            return [
                Retry(
                    "ADS_API_UNAVAILABLE",
                    "the Google Ads API uploader (platforms.google_ads.ads_api) is not installed",
                )
            ] * len(items)
        conversions = [p.conversion for p in items]
        if route == ADS_API_ADJUSTMENT:
            return list(uploader.upload_adjustments(conversions, validate_only=validate_only))
        return list(uploader.upload_click_conversions(conversions, validate_only=validate_only))

    # -- clients -------------------------------------------------------------------------------
    def _customer_id(self) -> str:
        if not self.settings.customer_id:
            raise PermanentPlatformError(
                "set platforms.google_ads.customer_id", platform=sdk.PLATFORM, code="CONFIG"
            )
        return self.settings.customer_id

    def _datamanager_credentials(self) -> Any:
        with self._lock:
            if self._credentials is None:
                self._credentials = sdk.datamanager_credentials(self.settings)
            return self._credentials

    def _ingestion_client(self) -> Any:
        credentials = self._datamanager_credentials()
        with self._lock:
            if self._client is None:
                self._client = sdk.ingestion_client(self.settings, credentials)
            return self._client

    def _ads_uploader(self) -> Any:
        with self._lock:
            if self._uploader is None:
                try:
                    from platforms.google_ads.ads_api import AdsApiUploader
                except ImportError:
                    return None
                self._uploader = AdsApiUploader(self.settings, timeout=self.timeout)
            return self._uploader


def _hashes(values: tuple[str, ...]) -> list[str]:
    """SHA-256 hex digests, lowercased, without duplicates; anything else is dropped."""
    seen: dict[str, None] = {}
    for value in values:
        if value and _SHA256_HEX.match(value):
            seen.setdefault(value.lower(), None)
    return list(seen)
