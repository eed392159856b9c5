"""``closedloop doctor`` for Meta: token (``debug_token``), dataset, ad account, test event.

Read-only through the facebook-business SDK's own API instance: ``debug_token`` for the
token's validity and permissions, node reads for the pixel (dataset) and the ad account, and
one event with the configured ``test_event_code`` (Meta shows it in Events Manager > Test
events and never counts it). Without a ``test_event_code`` no event is sent: Meta has no
validate-only mode.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from facebook_business.adobjects.adspixel import AdsPixel
from facebook_business.adobjects.serverside.action_source import ActionSource
from facebook_business.adobjects.serverside.custom_data import CustomData
from facebook_business.adobjects.serverside.event import Event
from facebook_business.adobjects.serverside.event_request import EventRequest
from facebook_business.adobjects.serverside.user_data import UserData
from facebook_business.api import FacebookAdsApi
from facebook_business.exceptions import FacebookRequestError

from platforms.doctor import DoctorContext, Findings
from platforms.meta.client import ad_account_node, build_api, classify_error
from platforms.meta.settings import MetaSettings

KEY = "platforms.meta"
TOKEN_FIX = (
    "create a system-user token in Business Settings > Users > System users with "
    f"ads_management (and ads_read for spend), assign it the dataset and ad account, and set "
    f"{KEY}.access_token"
)
#: Permissions the Conversions API needs; reading insights takes either of the second set.
CAPI_SCOPES = ("ads_management",)
INSIGHTS_SCOPES = ("ads_read", "ads_management")
#: ``account_status`` values (Graph's AdAccount reference): 1 is ACTIVE.
ACCOUNT_STATUS = {
    1: "ACTIVE",
    2: "DISABLED",
    3: "UNSETTLED",
    7: "PENDING_RISK_REVIEW",
    8: "PENDING_SETTLEMENT",
    9: "IN_GRACE_PERIOD",
    100: "PENDING_CLOSURE",
    101: "CLOSED",
    201: "ANY_ACTIVE",
    202: "ANY_CLOSED",
}


def run(settings: MetaSettings, findings: Findings, context: DoctorContext) -> None:
    """All Meta checks; later ones are skipped when the token is refused."""
    api = build_api(settings, timeout=context.timeout)
    if not _token(settings, api, findings):
        return
    _node(
        api,
        findings,
        "dataset (pixel) readable",
        str(settings.pixel_id),
        ["id", "name"],
        f"check {KEY}.pixel_id and assign the dataset to the system user",
    )
    if settings.ad_account_id:
        account = _node(
            api,
            findings,
            "ad account readable",
            ad_account_node(settings.ad_account_id),
            ["id", "name", "account_status"],
            f"check {KEY}.ad_account_id and assign the ad account to the system user",
        )
        if account is not None:
            status = int(account.get("account_status", 0))
            label = ACCOUNT_STATUS.get(status, str(status))
            if status == 1:
                findings.ok("ad account active", label)
            else:
                findings.fail(
                    "ad account active",
                    f"account_status {label}",
                    "settle or re-open the ad account in Meta Ads Manager",
                )
    if settings.test_event_code:
        _test_event(settings, api, findings)
    else:
        findings.note(
            "test event",
            "not sent: Meta has no validate-only mode",
            f"set {KEY}.test_event_code (Events Manager > Test events) to have one checked",
        )


def _get(api: FacebookAdsApi, findings: Findings, node: str, params: dict[str, Any]) -> Any:
    response = api.call("GET", (node,), params=params)
    findings.saw_date(_header(response.headers(), "Date"))
    return response.json()


def _token(settings: MetaSettings, api: FacebookAdsApi, findings: Findings) -> bool:
    token = settings.access_token.get_secret_value() if settings.access_token else ""
    with findings.guard("access token valid", TOKEN_FIX):
        try:
            data = _get(api, findings, "debug_token", {"input_token": token}).get("data", {})
        except FacebookRequestError as error:
            findings.stop("access token valid", _msg(error), TOKEN_FIX)
        if not data.get("is_valid"):
            reason = (data.get("error") or {}).get("message", "not valid")
            findings.stop("access token valid", reason, TOKEN_FIX)
        expires = int(data.get("expires_at") or 0)
        when = (
            "never expires"
            if expires == 0
            else f"expires {time.strftime('%Y-%m-%d', time.gmtime(expires))}"
        )
        findings.ok("access token valid", f"{data.get('type', 'token')}, {when}")
        scopes = set(data.get("scopes") or [])
        missing = [s for s in CAPI_SCOPES if s not in scopes]
        if settings.ad_account_id and not scopes & set(INSIGHTS_SCOPES):
            missing.append("ads_read")
        if missing:
            findings.fail("token permissions", f"missing {', '.join(missing)}", TOKEN_FIX)
        else:
            findings.ok("token permissions", ", ".join(sorted(scopes)))
        return True
    return False


def _node(
    api: FacebookAdsApi, findings: Findings, name: str, node: str, fields: list[str], fix: str
) -> dict[str, Any] | None:
    with findings.guard(name, fix):
        try:
            values = _get(api, findings, node, {"fields": ",".join(fields)})
        except FacebookRequestError as error:
            findings.stop(name, _msg(error), fix)
        findings.ok(name, f"{values.get('id')} {values.get('name', '')!r}")
        return dict(values)
    return None


def _test_event(settings: MetaSettings, api: FacebookAdsApi, findings: Findings) -> None:
    name = "test event accepted"
    fix = f"check {KEY}.test_event_code and the dataset's Test events tab"
    with findings.guard(name, fix):
        event = Event(
            event_name=settings.event_name,
            event_time=int(time.time()),
            event_id=f"closedloop-doctor-{int(time.time())}",
            action_source=ActionSource(settings.action_source),
            user_data=UserData(emails=[hashlib.sha256(b"doctor@example.com").hexdigest()]),
            custom_data=CustomData(value=1.0, currency="usd"),
        )
        request = EventRequest(
            pixel_id=str(settings.pixel_id),
            events=[event],
            test_event_code=settings.test_event_code,
        )
        try:
            answer = AdsPixel(str(settings.pixel_id), api=api).create_event(
                fields=[], params=request.get_params()
            )
        except FacebookRequestError as error:
            findings.stop(name, _msg(error), fix)
        findings.ok(
            name,
            f"events_received {answer.get('events_received')} under {settings.test_event_code!r}",
        )


def _msg(error: FacebookRequestError) -> str:
    failure = classify_error(error)
    return f"{failure.code}: {error.api_error_message() or failure.message}"


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if key.lower() == name.lower():
            return str(value)
    return None
