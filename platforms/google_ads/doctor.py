"""``closedloop doctor`` for Google Ads: token, scopes, accounts, conversion action, terms.

Everything is read-only: GAQL through ``google-ads`` for the accounts and the conversion
action, and one Data Manager ``IngestEvents`` call with ``validate_only`` (Google validates
the synthetic event and keeps nothing). Data Manager has no read call for conversion actions,
so those checks need the Google Ads API, i.e. a ``developer_token``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from google.ads import datamanager_v1 as dm

from platforms.base import Rejected
from platforms.doctor import DoctorContext, Findings
from platforms.google_ads import client as sdk
from platforms.google_ads.ads_client import ADWORDS_SCOPE
from platforms.google_ads.conversion_actions import conversion_actions, customer_info
from platforms.google_ads.datamanager import DataManagerSender
from platforms.google_ads.settings import GoogleAdsSettings
from platforms.google_doctor import check_token

#: Types that take uploaded click conversions (what both APIs send). UPLOAD_CALLS takes call
#: conversions only, so it is not accepted here.
UPLOAD_TYPES = frozenset({"UPLOAD_CLICKS"})
KEY = "platforms.google_ads"
ACCOUNT_FIX = (
    f"check {KEY}.customer_id / login_customer_id (10 digits), and that the credentials' user "
    "can open the account in Google Ads (through the manager account, if any)"
)
LIST_ACTIONS = "run `closedloop google-ads conversion-actions` and copy an ID"


def needed_scopes(settings: GoogleAdsSettings) -> list[str]:
    """Data Manager for uploads; AdWords for the Google Ads API (adjustments, spend, reads)."""
    scopes = [sdk.DATAMANAGER_SCOPE] if settings.api == "data_manager" else []
    if settings.api == "google_ads" or settings.developer_token is not None:
        scopes.append(ADWORDS_SCOPE)
    return scopes


def run(settings: GoogleAdsSettings, findings: Findings, context: DoctorContext) -> None:
    """All Google Ads checks, in the order an admin fixes them."""
    scopes = needed_scopes(settings)
    token_ok = check_token(
        findings, settings.credentials, f"{KEY}.credentials", scopes, timeout=context.timeout
    )
    if not token_ok:
        return
    if settings.developer_token is None:
        findings.note(
            "conversion action",
            "not checked: reading the account needs the Google Ads API",
            f"set {KEY}.developer_token so doctor can check the account, the conversion "
            "action and the customer-data terms",
        )
    else:
        _account_checks(settings, findings, context)
    if settings.api == "data_manager":
        _validate_only(settings, findings, context)


def _account_checks(
    settings: GoogleAdsSettings, findings: Findings, context: DoctorContext
) -> None:
    terms = None
    with findings.guard("operating customer reachable", ACCOUNT_FIX):
        info = customer_info(settings, timeout=context.timeout)
        if info is None:
            findings.stop("operating customer reachable", "no customer row", ACCOUNT_FIX)
        findings.ok("operating customer reachable", f"{info.id} ({info.name})")
        terms = info.accepted_customer_data_terms
    if settings.login_customer_id:
        with findings.guard("login customer reachable", ACCOUNT_FIX):
            login = settings.model_copy(update={"customer_id": settings.login_customer_id})
            manager = customer_info(login, timeout=context.timeout)
            if manager is None:
                findings.stop("login customer reachable", "no customer row", ACCOUNT_FIX)
            findings.ok("login customer reachable", f"{manager.id} ({manager.name})")
    if terms is not None:
        if terms:
            findings.ok("customer-data terms accepted", "enhanced conversions may use user data")
        else:
            findings.fail(
                "customer-data terms accepted",
                "accepted_customer_data_terms is false: Google drops hashed emails and phones",
                "in Google Ads: Goals > Settings > Enhanced conversions for leads, accept the "
                "customer data terms",
            )
    _action_checks(settings, findings, context)


def _action_checks(settings: GoogleAdsSettings, findings: Findings, context: DoctorContext) -> None:
    action_id = str(settings.conversion_action_id)
    name = "conversion action exists"
    with findings.guard(name, LIST_ACTIONS):
        found = conversion_actions(settings, action_id=action_id, timeout=context.timeout)
        if not found:
            findings.stop(name, f"no conversion action {action_id} in the account", LIST_ACTIONS)
        action = found[0]
        findings.ok(name, f"{action.id} {action.name!r}")
        if action.status == "ENABLED":
            findings.ok("conversion action enabled", "ENABLED")
        else:
            findings.fail(
                "conversion action enabled",
                f"status {action.status}: Google refuses uploads to it",
                "enable it in Google Ads (Goals > Conversions), or " + LIST_ACTIONS,
            )
        if action.type in UPLOAD_TYPES:
            findings.ok("conversion action is an upload type", action.type)
        else:
            findings.fail(
                "conversion action is an upload type",
                f"type {action.type} does not take uploaded click conversions",
                "create a conversion action of source 'Import > CRM / other data sources, "
                "track conversions from clicks' (UPLOAD_CLICKS) and set "
                f"{KEY}.conversion_action_id",
            )
        if action.click_window_days == settings.click_window_days:
            findings.ok("click-through window matches", f"{action.click_window_days} days")
        else:
            findings.fail(
                "click-through window matches",
                f"Google's is {action.click_window_days} days, "
                f"{KEY}.click_window_days is {settings.click_window_days}",
                f"set {KEY}.click_window_days: {action.click_window_days} (or change the "
                "action's click-through conversion window in Google Ads)",
            )


def _validate_only(settings: GoogleAdsSettings, findings: Findings, context: DoctorContext) -> None:
    name = "Data Manager validate_only"
    fix = f"check {KEY}.customer_id, conversion_action_id and the Data Manager scope"
    with findings.guard(name, fix):
        credentials = sdk.datamanager_credentials(settings)
        sdk.ensure_token(credentials, context.timeout)
        client = sdk.ingestion_client(settings, credentials)
        sender = DataManagerSender(
            lambda: client,
            customer_id=str(settings.customer_id),
            login_customer_id=settings.login_customer_id,
            timeout=context.timeout,
            dry_run=True,
        )
        outcomes = sender.send([synthetic_event()], str(settings.conversion_action_id))
        rejected = [o for o in outcomes if isinstance(o, Rejected)]
        if rejected:
            findings.stop(name, f"{rejected[0].code}: {rejected[0].message}", fix)
        findings.ok(name, "a synthetic event validated (nothing kept)")


def synthetic_event() -> dm.Event:
    """An hour-old conversion with a hashed example.com email: valid, and never kept."""
    email = hashlib.sha256(b"doctor@example.com").hexdigest()
    return dm.Event(
        transaction_id=f"closedloop-doctor-{int(datetime.now(UTC).timestamp())}",
        event_timestamp=datetime.now(UTC) - timedelta(hours=1),
        conversion_value=1.0,
        currency="USD",
        consent=dm.Consent(
            ad_user_data=dm.ConsentStatus.CONSENT_GRANTED,
            ad_personalization=dm.ConsentStatus.CONSENT_GRANTED,
        ),
        user_data=dm.UserData(user_identifiers=[dm.UserIdentifier(email_address=email)]),
    )
