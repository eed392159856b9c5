"""``closedloop doctor`` for HubSpot: token and scopes, pipelines, write-back group, webhooks.

The scopes come from HubSpot's private-app token info
(``POST /oauth/v2/private-apps/get/access-token-info``). The SDK has no typed call for it and
its generic ``api_request`` cannot take a timeout, so that one call is plain ``requests``;
the rest goes through the SDK like the sync does. Nothing is written: a missing write-back
group passes when the token may create it (the write-back creates it on first use).
"""

from __future__ import annotations

from typing import Any

import requests

from platforms.doctor import DoctorContext, Findings
from platforms.hubspot.client import HubSpotClient
from platforms.hubspot.settings import HubSpotSettings

KEY = "platforms.hubspot"
TOKEN_INFO_PATH = "/oauth/v2/private-apps/get/access-token-info"
#: What the sync reads and the write-back writes; the schema scope creates its properties.
READ_SCOPES = ("crm.objects.deals.read", "crm.objects.contacts.read")
WRITEBACK_SCOPES = ("crm.objects.contacts.write",)
SCHEMA_WRITE = "crm.schemas.contacts.write"
TOKEN_FIX = (
    "in HubSpot: Settings > Integrations > Private apps, give the app the scopes named here, "
    f"and set {KEY}.access_token to its token"
)


def run(settings: HubSpotSettings, findings: Findings, context: DoctorContext) -> None:
    """All HubSpot checks."""
    scopes = _token(settings, findings, context)
    if scopes is None:
        return
    client = HubSpotClient(settings, timeout=context.timeout, max_attempts=1)
    with findings.guard("deal pipelines readable", TOKEN_FIX):
        pipelines = client.call("pipelines", client.pipelines_api.get_all, "deals")
        names = [p.label for p in pipelines.results or []]
        if not names:
            findings.stop("deal pipelines readable", "no deal pipeline", "create one in HubSpot")
        findings.ok("deal pipelines readable", ", ".join(names))
    if context.writeback_group:
        _group(client, context.writeback_group, scopes, findings)
    if settings.client_secret is not None:
        findings.ok("webhook client secret", "set: webhook signatures are verified")
    else:
        findings.note(
            "webhook client secret",
            "not set: POST /webhooks/hubspot refuses every call",
            f"if the private app subscribes webhooks, set {KEY}.client_secret to its client "
            "secret (HubSpot's API cannot tell whether a private app has subscriptions)",
        )


def _token(
    settings: HubSpotSettings, findings: Findings, context: DoctorContext
) -> set[str] | None:
    token = settings.access_token.get_secret_value() if settings.access_token else ""
    with findings.guard("access token valid", TOKEN_FIX):
        response = requests.post(
            settings.base_url.rstrip("/") + TOKEN_INFO_PATH,
            json={"tokenKey": token},
            headers={"Authorization": f"Bearer {token}"},
            timeout=context.timeout,
        )
        findings.saw_date(response.headers.get("Date"))
        body: dict[str, Any] = response.json() if response.content else {}
        if response.status_code != 200:
            findings.stop(
                "access token valid",
                f"HTTP {response.status_code} {body.get('category', '')}: {body.get('message')}",
                TOKEN_FIX,
            )
        scopes = set(body.get("scopes") or [])
        findings.ok(
            "access token valid", f"private app {body.get('appId')} in hub {body.get('hubId')}"
        )
        missing = [s for s in (*READ_SCOPES, *WRITEBACK_SCOPES) if s not in scopes]
        if missing:
            findings.fail("token scopes", f"missing {', '.join(missing)}", TOKEN_FIX)
        else:
            findings.ok("token scopes", ", ".join(sorted(scopes)))
        return scopes
    return None


def _group(client: HubSpotClient, group: str, scopes: set[str], findings: Findings) -> None:
    name = "write-back property group"
    with findings.guard(name, TOKEN_FIX):
        groups = client.call("property_groups", client.properties_groups.get_all, "contacts")
        if group in {g.name for g in groups.results or []}:
            findings.ok(name, f"{group!r} present")
        elif SCHEMA_WRITE in scopes:
            findings.ok(name, f"{group!r} absent; the write-back creates it ({SCHEMA_WRITE})")
        else:
            findings.fail(
                name,
                f"{group!r} absent and the token may not create it",
                f"add the {SCHEMA_WRITE} scope to the private app (or create the contact "
                f"property group {group!r} by hand)",
            )
