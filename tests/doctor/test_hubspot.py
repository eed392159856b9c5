"""HubSpot checks against the sandbox: token info scopes, pipelines, write-back group, secret."""

from __future__ import annotations

NAMES = [
    "access token valid",
    "token scopes",
    "deal pipelines readable",
    "write-back property group",
    "webhook client secret",
]


def test_every_hubspot_check_passes(hubspot, doctor):
    """A private app with the README's scopes passes; the missing group is creatable."""
    result = doctor({"hubspot": hubspot.platform_config()})
    assert result.names("hubspot") == NAMES
    assert all(result["hubspot", n].status == "ok" for n in NAMES)
    assert "creates it" in result["hubspot", "write-back property group"].detail
    assert hubspot.property_groups.keys() == {"contactinformation", "analyticsinformation"}


def test_present_group_passes_without_the_schema_scope(hubspot, doctor):
    """A group that exists needs no schema-write scope."""
    hubspot._add_group("closedloop", "closedloop")
    hubspot.token_scopes.scopes.remove("crm.schemas.contacts.write")
    check = doctor({"hubspot": hubspot.platform_config()})["hubspot", "write-back property group"]
    assert check.status == "ok" and "present" in check.detail


def test_invalid_token_fails_and_stops(hubspot, doctor):
    """HubSpot's 401 INVALID_AUTHENTICATION; nothing else is checked."""
    result = doctor({"hubspot": hubspot.platform_config() | {"access_token": "pat-na1-wrong"}})
    check = result["hubspot", "access token valid"]
    assert check.status == "fail" and "INVALID_AUTHENTICATION" in check.detail
    assert result.names("hubspot") == ["access token valid"]


def test_missing_scopes_fail_and_the_group_cannot_be_created(hubspot, doctor):
    """Without contact scopes and schema write, both checks fail, naming the scopes."""
    hubspot.token_scopes.scopes = ["crm.objects.deals.read"]
    result = doctor({"hubspot": hubspot.platform_config()})
    scopes = result["hubspot", "token scopes"]
    assert scopes.status == "fail" and "crm.objects.contacts.write" in scopes.detail
    group = result["hubspot", "write-back property group"]
    assert group.status == "fail" and "crm.schemas.contacts.write" in group.fix


def test_sandbox_refuses_group_creation_without_the_schema_scope(hubspot):
    """The sandbox answers HubSpot's 403 MISSING_SCOPES, so the doctor's reading is real."""
    import requests

    hubspot.token_scopes.scopes = ["crm.objects.contacts.write"]
    answer = requests.post(
        hubspot.url + "/crm/v3/properties/contacts/groups",
        json={"name": "closedloop", "label": "closedloop"},
        headers={"Authorization": f"Bearer {hubspot.access_token}"},
        timeout=5,
    )
    assert answer.status_code == 403
    assert answer.json()["category"] == "MISSING_SCOPES"


def test_no_pipelines_fails(hubspot, doctor):
    """A portal without a deal pipeline fails 'deal pipelines readable'."""
    hubspot.pipelines.clear()
    check = doctor({"hubspot": hubspot.platform_config()})["hubspot", "deal pipelines readable"]
    assert check.status == "fail"


def test_missing_client_secret_is_a_note(hubspot, doctor):
    """No client secret: a note (HubSpot cannot say whether webhooks are subscribed)."""
    config = hubspot.platform_config()
    config.pop("client_secret")
    check = doctor({"hubspot": config})["hubspot", "webhook client secret"]
    assert check.status == "note" and "client_secret" in check.fix
