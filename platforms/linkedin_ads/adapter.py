"""LinkedIn Conversions API destination: closed deals become events on a conversion rule.

``prepare`` builds one ``conversionEvents`` element and mirrors LinkedIn's checks (90-day age,
a user ID it can match, the value as a decimal string). ``send`` posts up to 5,000 elements as
one Rest.li BATCH_CREATE; LinkedIn answers a status per element, so a bad element fails alone
and becomes ``Rejected`` (4xx) or ``Retry`` (5xx/429) while the others are accepted.

LinkedIn cannot restate or retract a conversion, so only ``conversion`` rows are planned.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from connector.errors import PermanentPlatformError, request_error
from platforms.base import (
    CONVERSION,
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
from platforms.linkedin_ads.client import (
    DEFAULT_RATE_LIMIT_WAIT,
    DEFAULT_TRANSIENT_WAIT,
    ConversionsClient,
    LinkedInFailure,
)
from platforms.linkedin_ads.hashing import LINKEDIN_HASHING
from platforms.linkedin_ads.settings import LinkedInAdsSettings, conversion_urn

Element = dict[str, Any]

CLICK_KIND = "li_fat_id"
SHA256_EMAIL = "SHA256_EMAIL"
FIRST_PARTY_UUID = "LINKEDIN_FIRST_PARTY_ADS_TRACKING_UUID"
#: LinkedIn drops events that happened more than 90 days before they arrive.
WINDOW = timedelta(days=90)
#: A slow batch or clock skew must not let an event turn 90 days old on the way.
SEND_MARGIN = timedelta(minutes=15)
FUTURE_TOLERANCE = timedelta(seconds=60)
#: ``eventId`` is at most 64 characters.
MAX_EVENT_ID = 64
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
CURRENCY = re.compile(r"^[A-Z]{3}$")


class LinkedInAdsDestination(Destination[Element]):
    """Conversions sent to LinkedIn's ``/rest/conversionEvents``."""

    name: ClassVar[str] = "linkedin_ads"
    max_batch: ClassVar[int] = 5000
    click_kinds: ClassVar[tuple[str, ...]] = (CLICK_KIND,)
    hashing: ClassVar[Hashing | None] = LINKEDIN_HASHING
    identified_by: ClassVar[tuple[str, ...]] = ("email_sha256", CLICK_KIND)
    kinds: ClassVar[frozenset[str]] = frozenset({CONVERSION})

    @classmethod
    def too_old(
        cls,
        settings: LinkedInAdsSettings,
        kind: str,
        *,
        event_time: datetime,
        click_time: datetime | None,
        now: datetime,
    ) -> str | None:
        """LinkedIn refuses events older than 90 days."""
        if now - event_time > WINDOW:
            return f"LinkedIn refuses conversions older than {WINDOW.days} days"
        return None

    @classmethod
    def horizon(cls, settings: LinkedInAdsSettings, now: datetime) -> str:
        """Deals closed within the 90-day window only."""
        return (
            f"deals closed after {now - WINDOW:%Y-%m-%d} only: LinkedIn refuses conversions "
            f"older than {WINDOW.days} days"
        )

    def __init__(
        self, settings: LinkedInAdsSettings, *, dry_run: bool = False, timeout: float = 30.0
    ) -> None:
        super().__init__(settings, dry_run=dry_run, timeout=timeout)
        self.settings: LinkedInAdsSettings = settings
        self._client: ConversionsClient | None = None

    def setup(self) -> None:
        """Open this destination's HTTP session."""
        if self._client is None:
            self._client = ConversionsClient(self.settings, timeout=self.timeout)

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- prepare -------------------------------------------------------------------------------
    def prepare(
        self, conversion: PlannedConversion, now: datetime
    ) -> Prepared[Element] | Skip | Wait:
        """Build the ``conversionEvents`` element, or say why LinkedIn would refuse it."""
        if conversion.kind != CONVERSION:
            return Skip(
                "unsupported_adjustment",
                f"LinkedIn's Conversions API cannot adjust or retract events ({conversion.kind}); "
                "the original event stands",
            )
        age = now - conversion.event_time
        if age > WINDOW - SEND_MARGIN:
            return Skip(
                "event_too_old",
                f"event time {conversion.event_time.isoformat()} is older than LinkedIn's "
                f"{WINDOW.days}-day window",
            )
        if -age > FUTURE_TOLERANCE:
            return Wait(conversion.event_time, "event time is in the future")
        rule = conversion.options.get("conversion_id") or self.settings.conversion_id
        urn = conversion_urn(rule) if rule is not None else None
        if urn is None:
            return Skip(
                "invalid_conversion_rule",
                f"{rule!r} is not a LinkedIn conversion rule ID or URN (mapping option "
                "conversion_id, or platforms.linkedin_ads.conversion_id)",
            )
        if len(conversion.dedup_key) > MAX_EVENT_ID:
            return Skip("invalid_event_id", f"eventId is longer than {MAX_EVENT_ID} characters")
        ids = conversion.identifiers
        if ids.consent_ad_user_data is False:
            # LinkedIn has no per-event consent field: denied means no identifiers, no event.
            return Skip(
                "consent_denied",
                "the person denied ad_user_data consent; LinkedIn must not receive their "
                "identifiers (email, li_fat_id)",
            )
        user_ids = _user_ids(conversion)
        if not user_ids:
            return Skip("no_user_ids", "no hashed email or li_fat_id click for LinkedIn to match")
        element: Element = {
            "conversion": urn,
            "conversionHappenedAt": int(conversion.event_time.timestamp() * 1000),
            "eventId": conversion.dedup_key,
            "user": {"userIds": user_ids},
        }
        currency = (conversion.currency or "").strip().upper()
        if conversion.value:
            if not CURRENCY.match(currency):
                return Skip("invalid_currency", f"{currency!r} is not an ISO 4217 currency code")
            element["conversionValue"] = {
                "currencyCode": currency,
                "amount": _amount(conversion.value),
            }
        return Prepared(conversion, element)

    # -- send ----------------------------------------------------------------------------------
    def send(self, batch: list[Prepared[Element]]) -> list[Outcome]:
        """One BATCH_CREATE; one outcome per element from LinkedIn's per-element statuses."""
        if self.dry_run:
            raise PermanentPlatformError(
                "LinkedIn has no validate-only mode; a dry run never posts conversions",
                platform=self.name,
                code="DRY_RUN",
            )
        if not batch:
            return []
        if len(batch) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} events per request, got {len(batch)}")
        self.setup()
        assert self._client is not None
        try:
            statuses = self._client.batch_create([item.payload for item in batch])
        except LinkedInFailure as failure:
            raise request_error(failure, self.name) from None
        return [
            _outcome(item, status.status, status.error)
            for item, status in zip(batch, statuses, strict=True)
        ]


def _user_ids(conversion: PlannedConversion) -> list[dict[str, str]]:
    """One hashed email and the li_fat_id click, as LinkedIn ``userIds``."""
    ids = conversion.identifiers
    out: list[dict[str, str]] = []
    email = next((h for h in ids.email_sha256 if SHA256_HEX.match(h)), None)
    if email:
        out.append({"idType": SHA256_EMAIL, "idValue": email})
    click = ids.click
    if click is not None and click.kind == CLICK_KIND and click.value.strip():
        out.append({"idType": FIRST_PARTY_UUID, "idValue": click.value.strip()})
    return out


def _amount(value: Decimal) -> str:
    """The amount as LinkedIn wants it: a decimal string, never a float or an exponent.

    Trailing zeros go (the store keeps four decimals), so a deal of 2500.75 is sent as typed.
    """
    return format(Decimal(value).normalize(), "f")


def _outcome(item: Prepared[Element], status: int, error: dict[str, Any] | None) -> Outcome:
    if 200 <= status < 300:
        return Accepted(ref=str(item.payload["eventId"]))
    error = error or {}
    code = str(error.get("code") or error.get("serviceErrorCode") or status)
    message = str(error.get("message") or f"LinkedIn answered {status} for this event")
    if status == 429:
        return Retry(code, f"LinkedIn: {message}", DEFAULT_RATE_LIMIT_WAIT)
    if status >= 500:
        return Retry(code, f"LinkedIn: {message}", DEFAULT_TRANSIENT_WAIT)
    return Rejected(code, message)
