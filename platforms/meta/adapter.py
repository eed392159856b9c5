"""Meta Conversions API destination: closed deals become server events on the pixel.

``prepare`` mirrors every check the API makes, because one invalid event fails the whole
request (a single event older than 7 days sinks 999 good ones). ``send`` posts one
``EventRequest`` of up to 1,000 events. If Meta still rejects the request for its data, the
culprit is isolated by bisection: each failing half is split and resent until single events
remain, which become ``Rejected`` with Meta's message while the rest are accepted.

Request cost of bisection: with one bad event among n, every level sends two halves and one of
them fails, so at most ``2·ceil(log2 n) + 1`` requests (21 for 1,000 events); with k bad events
about ``k·2·log2 n``. ``MAX_ISOLATION_REQUESTS`` bounds it; events still unresolved when the
budget runs out come back as ``Retry``. Resending is harmless: Meta dedups on event_name +
event_id for 48 hours.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import requests
from facebook_business.adobjects.adspixel import AdsPixel
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError
from requests.exceptions import InvalidSchema, InvalidURL, MissingSchema

from connector.errors import PermanentPlatformError, request_error
from platforms.base import (
    CONVERSION,
    Accepted,
    BrowserEvidence,
    ClickId,
    Destination,
    Hashing,
    NotValidated,
    Outcome,
    PlannedConversion,
    Prepared,
    Rejected,
    Retry,
    Skip,
    Validation,
    Wait,
)
from platforms.meta import cookies
from platforms.meta.client import DEFAULT_TRANSIENT_WAIT, GraphFailure, build_api, classify_error
from platforms.meta.hashing import META_HASHING
from platforms.meta.settings import MetaSettings

log = logging.getLogger(__name__)

PARTNER_AGENT = "closedloop"
MAX_AGE = timedelta(days=7)
MAX_AGE_PHYSICAL_STORE = timedelta(days=62)
#: Prepare runs just before send, but a slow batch or clock skew could let an event turn 7
#: days old on the way, failing its whole request, so prepare stops a little early.
SEND_MARGIN = timedelta(minutes=15)
FUTURE_TOLERANCE = timedelta(seconds=60)
#: Lead-stage rows (``options.lead_stage``, planned by ``connector.leadvalue``) are CRM events:
#: Meta's Conversion Leads payload spec asks for ``system_generated`` with
#: ``custom_data.event_source: crm`` and ``lead_event_source`` (the CRM's name).
LEAD_ACTION_SOURCE = "system_generated"

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
META_LEAD_ID = re.compile(r"^\d{15,16}$")


@dataclass
class _Isolation:
    """Shared state of one ``send``: request budget and the reason to stop early."""

    requests_left: int
    stop: Retry | None = None


class MetaDestination(Destination[Event]):
    """Conversions sent as Meta server events through the facebook-business SDK."""

    name: ClassVar[str] = "meta"
    max_batch: ClassVar[int] = 1000
    click_kinds: ClassVar[tuple[str, ...]] = ("fbclid",)
    browser_ids: ClassVar[tuple[str, ...]] = ("fbp",)
    browser_context: ClassVar[bool] = True
    hashing: ClassVar[Hashing | None] = META_HASHING
    identified_by: ClassVar[tuple[str, ...]] = (
        "email_sha256",
        "phone_sha256",
        "fbc",
        "fbp",
        "external_id",
        "crm_lead_id",  # a lead ad's lead ID: conversion-lead events match on it alone
    )
    kinds: ClassVar[frozenset[str]] = frozenset({CONVERSION})
    #: Meta fails a whole request if any event is older than this (physical_store: 62 days).
    WINDOW: ClassVar[timedelta] = timedelta(days=7)
    STORE_WINDOW: ClassVar[timedelta] = timedelta(days=62)
    #: Upper bound on requests spent isolating bad events in one ``send``.
    MAX_ISOLATION_REQUESTS: ClassVar[int] = 200

    @classmethod
    def derived_ids(cls, evidence: BrowserEvidence, click: ClickId | None) -> list[tuple[str, Any]]:
        """The ``fbc``: the newest fbclid click before the close, with its time.

        The cookies the page views carried and the fbclid clicks seen go to Meta's rule
        (:func:`platforms.meta.cookies.pick_fbc`): an old ``_fbc`` still on a later visit
        loses to a newer click, and a unit's own click is used in split mode.
        """
        own = (click.value, click.time) if click is not None else None
        return [("fbc", cookies.pick_fbc(evidence.cookies("fbc"), evidence.clicks("fbclid"), own))]

    @classmethod
    def _window(cls, settings: MetaSettings) -> timedelta:
        return cls.STORE_WINDOW if settings.action_source == "physical_store" else cls.WINDOW

    @classmethod
    def too_old(
        cls,
        settings: MetaSettings,
        kind: str,
        *,
        event_time: datetime,
        click_time: datetime | None,
        now: datetime,
    ) -> str | None:
        """One event older than the window fails Meta's whole request, so none is planned."""
        window = cls._window(settings)
        if now - event_time > window:
            return f"Meta rejects a whole request if any event is older than {window.days} days"
        return None

    @classmethod
    def horizon(cls, settings: MetaSettings, now: datetime) -> str:
        """Deals closed within the window only."""
        window = cls._window(settings)
        return (
            f"deals closed after {now - window:%Y-%m-%d} only: Meta fails a whole request "
            f"if any event is older than {window.days} days"
        )

    def __init__(
        self, settings: MetaSettings, *, dry_run: bool = False, timeout: float = 30.0
    ) -> None:
        super().__init__(settings, dry_run=dry_run, timeout=timeout)
        self.settings: MetaSettings = settings
        self._api: FacebookAdsApi | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def setup(self) -> None:
        """Build this destination's own API instance (never the SDK's global default)."""
        if self._api is None:
            self._api = build_api(self.settings, timeout=self.timeout)

    def close(self) -> None:
        """Close the HTTP session."""
        if self._api is not None:
            self._api._session.requests.close()
            self._api = None

    @property
    def test_event_code(self) -> str | None:
        """The configured test code: Meta keeps such events in Test Events, never counted."""
        return self.settings.test_event_code

    def validate(self, batch: list[Prepared[Event]]) -> list[Validation]:
        """Post with the configured ``test_event_code``; without one, post nothing.

        Meta has no validate-only mode: events sent with a test code are checked like real
        ones and shown in Events Manager's Test Events, but never counted or attributed. A
        made-up code would still land in the pixel's Test Events, so without a configured
        one the events are reported as not validated.
        """
        if not self.test_event_code:
            return [
                NotValidated(
                    "Meta has no validate-only mode; set platforms.meta.test_event_code to "
                    "check these events in Test Events (nothing was posted)"
                )
            ] * len(batch)
        return list(self._send_events(batch))

    # -- prepare -------------------------------------------------------------------------------
    def prepare(
        self, conversion: PlannedConversion, now: datetime
    ) -> Prepared[Event] | Skip | Wait:
        """Build the server event, or say why Meta would refuse it."""
        if conversion.kind != CONVERSION:
            return Skip(
                "unsupported_adjustment",
                f"Meta's Conversions API cannot adjust or retract events ({conversion.kind}); "
                "the original event stands",
            )
        crm_lead = bool(conversion.options.get("lead_stage"))
        # A CRM lead stage is a Conversion Leads event: Meta wants it system_generated.
        source = LEAD_ACTION_SOURCE if crm_lead else self.settings.action_source
        max_age = MAX_AGE_PHYSICAL_STORE if source == "physical_store" else MAX_AGE
        age = now - conversion.event_time
        if age > max_age - SEND_MARGIN:
            return Skip(
                "event_too_old",
                f"event time {conversion.event_time.isoformat()} is older than Meta's "
                f"{max_age.days}-day window for action_source {source}; one such event would "
                "fail the whole request",
            )
        if -age > FUTURE_TOLERANCE:
            return Wait(conversion.event_time, "event time is in the future")
        currency = (conversion.currency or "").strip()
        event_name = str(conversion.options.get("event_name") or self.settings.event_name)
        if not currency and (conversion.value or event_name == "Purchase"):
            return Skip("missing_currency", "Meta needs a currency with every value")
        if currency and not re.fullmatch(r"[A-Za-z]{3}", currency):
            return Skip("invalid_currency", f"{currency!r} is not an ISO 4217 currency code")
        ids = conversion.identifiers
        if ids.consent_ad_user_data is False:
            # Meta has no per-event consent field: denied means no identifiers, so no event.
            return Skip(
                "consent_denied",
                "the person denied ad_user_data consent; Meta must not receive their "
                "identifiers (email, phone, fbc, fbp)",
            )
        if source == "website" and not (ids.user_agent and ids.page_url):
            return Skip(
                "missing_website_context",
                "action_source website needs the visitor's user agent and page URL",
            )
        lead_id = ids.crm_lead_id if _matches(META_LEAD_ID, ids.crm_lead_id) else None
        user_data = UserData(
            emails=[h for h in ids.email_sha256 if SHA256_HEX.match(h)] or None,
            phones=[h for h in ids.phone_sha256 if SHA256_HEX.match(h)] or None,
            external_ids=[ids.external_id] if ids.external_id else None,
            fbc=click_cookie(ids.fbc, ids.fbclid, ids.click_time),
            fbp=ids.fbp if cookies.parse_fbp(ids.fbp) else None,
            client_user_agent=ids.user_agent or None,
            client_ip_address=ids.client_ip or None,
            lead_id=lead_id,
        )
        if not _has_match_key(user_data):
            return Skip(
                "no_user_data",
                "no hashed email or phone, external_id, fbc, fbp or lead_id to match on",
            )
        custom_properties: dict[str, Any] = {}
        if lead_id or crm_lead:
            custom_properties = {
                "event_source": "crm",
                "lead_event_source": str(conversion.options.get("lead_event_source", "HubSpot")),
            }
        custom_data = CustomData(
            value=float(conversion.value) if currency else None,
            currency=currency.lower() or None,
            custom_properties=custom_properties,
        )
        event = Event(
            event_name=event_name,
            event_time=int(conversion.event_time.timestamp()),
            event_id=conversion.dedup_key,
            action_source=ActionSource(source),
            user_data=user_data,
            custom_data=custom_data,
            event_source_url=ids.page_url or None,
            **self._data_processing(),
        )
        return Prepared(conversion, event)

    def _data_processing(self) -> dict[str, Any]:
        """Limited Data Use as configured; nothing at all when it is not."""
        options = list(self.settings.data_processing_options)
        if not options:
            return {}
        return {
            "data_processing_options": options,
            "data_processing_options_country": self.settings.data_processing_options_country,
            "data_processing_options_state": self.settings.data_processing_options_state,
        }

    # -- send ----------------------------------------------------------------------------------
    def send(self, batch: list[Prepared[Event]]) -> list[Outcome]:
        """Post the batch; isolate events Meta rejects so the others still go through."""
        if self.dry_run and not self.test_event_code:
            raise PermanentPlatformError(
                "a dry run never posts real events: set platforms.meta.test_event_code",
                platform=self.name,
                code="DRY_RUN_WITHOUT_TEST_EVENT_CODE",
            )
        return self._send_events(batch)

    def _send_events(self, batch: list[Prepared[Event]]) -> list[Outcome]:
        if not batch:
            return []
        if len(batch) > self.max_batch:
            raise ValueError(f"at most {self.max_batch} events per request, got {len(batch)}")
        self.setup()
        state = _Isolation(requests_left=self.MAX_ISOLATION_REQUESTS)
        try:
            return [self._post(batch)] * len(batch)
        except GraphFailure as failure:
            if failure.kind in ("retry", "permanent"):
                raise request_error(failure, self.name) from None
            if len(batch) == 1:
                return [Rejected(failure.code, failure.message)]
            state.requests_left -= 1
        middle = len(batch) // 2
        outcomes = self._isolate(batch[:middle], state) + self._isolate(batch[middle:], state)
        log.warning(
            "meta: isolated invalid events: %d rejected, %d retry, %d accepted, %d requests",
            sum(isinstance(o, Rejected) for o in outcomes),
            sum(isinstance(o, Retry) for o in outcomes),
            sum(isinstance(o, Accepted) for o in outcomes),
            self.MAX_ISOLATION_REQUESTS - state.requests_left,
        )
        return outcomes

    def _isolate(self, batch: list[Prepared[Event]], state: _Isolation) -> list[Outcome]:
        if state.stop is None and state.requests_left <= 0:
            state.stop = Retry(
                "isolation_budget",
                f"stopped isolating invalid events after {self.MAX_ISOLATION_REQUESTS} requests",
            )
        if state.stop is not None:
            return [state.stop] * len(batch)
        state.requests_left -= 1
        try:
            return [self._post(batch)] * len(batch)
        except GraphFailure as failure:
            if failure.kind != "data":
                # Events already accepted keep their outcome; the rest try again later (also
                # on a permanent error: the outbox's attempt limit dead-letters them if it
                # persists, and raising here would mark the accepted ones as failed).
                state.stop = Retry(failure.code, failure.message, failure.retry_after)
                return [state.stop] * len(batch)
            if len(batch) == 1:
                return [Rejected(failure.code, failure.message)]
        middle = len(batch) // 2
        return self._isolate(batch[:middle], state) + self._isolate(batch[middle:], state)

    def _post(self, batch: list[Prepared[Event]]) -> Accepted:
        """One request through this destination's API instance; raises ``GraphFailure``."""
        assert self._api is not None
        request = EventRequest(
            pixel_id=str(self.settings.pixel_id),
            events=[item.payload for item in batch],
            test_event_code=self.test_event_code,
            partner_agent=PARTNER_AGENT,
        )
        # EventRequest.execute() would use the SDK's global default API; the same call made
        # through AdsPixel with our own API instance keeps configs apart.
        pixel = AdsPixel(str(self.settings.pixel_id), api=self._api)
        try:
            response = pixel.create_event(fields=[], params=request.get_params())
        except FacebookRequestError as error:
            raise classify_error(error) from None
        except (InvalidURL, InvalidSchema, MissingSchema) as error:
            raise GraphFailure(
                "permanent",
                "invalid_url",
                f"platforms.meta.graph_url is not usable ({type(error).__name__})",
            ) from None
        except requests.RequestException as error:
            raise GraphFailure(
                "retry",
                "connection",
                f"no answer from Meta ({type(error).__name__}); resending is safe because "
                "Meta dedups on event_id",
                DEFAULT_TRANSIENT_WAIT,
            ) from None
        diagnostics: dict[str, Any] = {"events_received": response.get("events_received")}
        if response.get("messages"):
            diagnostics["messages"] = response.get("messages")
        if self.test_event_code:
            diagnostics["test_event_code"] = self.test_event_code
        return Accepted(ref=response.get("fbtrace_id"), diagnostics=diagnostics)


def click_cookie(fbc: str | None, fbclid: str | None, click_time: datetime | None) -> str | None:
    """A valid ``_fbc`` value: the captured cookie, else built from fbclid and the click time.

    Never from the upload time: that would report an old click as fresh. Without a click time
    there is no honest fbc, so none is sent.
    """
    if cookies.parse_fbc(fbc):
        return fbc
    if fbclid and click_time is not None:
        return cookies.build_fbc(fbclid, click_time)
    return None


def _matches(pattern: re.Pattern[str], value: str | None) -> bool:
    return bool(value) and bool(pattern.match(value or ""))


def _has_match_key(user: UserData) -> bool:
    return bool(
        user.emails
        or user.phones
        or user.external_ids
        or user.fbc
        or user.fbp
        or user.lead_id
        or (user.client_ip_address and user.client_user_agent)
    )
