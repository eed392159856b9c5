"""GA4's User Deletion API through the official Admin client, against the sandbox.

Expected behaviour is Google's documentation of ``properties.submitUserDeletion`` (Admin API
v1alpha): POST ``/v1alpha/{name=properties/*}:submitUserDeletion``, a body naming exactly one
of ``userId``/``clientId``/``appInstanceId``/``userProvidedData``, the
``https://www.googleapis.com/auth/analytics.edit`` scope, and ``deletionRequestTime`` back.
"""

from __future__ import annotations

import pytest
import requests

from connector.config import parse_config
from connector.config.models import GA4Settings
from connector.errors import ConfigError, PermanentPlatformError, RetryablePlatformError
from platforms.base import ErasureSubject
from platforms.ga4.adapter import GA4Destination
from platforms.ga4.erase import admin_client
from platforms.ga4.sandbox import EDIT_SCOPE, READONLY_SCOPE, GA4Sandbox
from tests.platforms.ga4.conftest import NOW

SUBJECT = ErasureSubject(
    browser_ids={"ga_client_id": ("111.222", "333.444"), "fbp": ("fb.1.1.1",)},
    external_ids=("crm-501",),
)


def _settings(sandbox: GA4Sandbox, *scopes: str, **overrides: object) -> GA4Settings:
    section = sandbox.platform_config()
    section["credentials"] = sandbox.credentials(sandbox.grant(set(scopes)))
    return GA4Settings.model_validate({**section, "user_deletion": True, **overrides})


def test_erase_requests_are_opt_in_and_one_per_client_id(sandbox: GA4Sandbox) -> None:
    """Off by default; on, one item per client ID, plus user IDs when send_user_id is on."""
    assert GA4Destination.erase_requests(GA4Settings(**sandbox.platform_config()), SUBJECT) == []
    settings = _settings(sandbox, EDIT_SCOPE)
    assert GA4Destination.erase_requests(settings, SUBJECT) == [
        {"client_id": "111.222"},
        {"client_id": "333.444"},
    ]
    with_users = _settings(sandbox, EDIT_SCOPE, send_user_id=True)
    assert GA4Destination.erase_requests(with_users, SUBJECT)[-1] == {"user_id": "crm-501"}


def test_submit_user_deletion_through_the_sdk(sandbox: GA4Sandbox) -> None:
    """The official client's request reaches the sandbox; its answer parses as Google's."""
    settings = _settings(sandbox, EDIT_SCOPE)
    GA4Destination.erase(settings, {"client_id": "111.222"})
    GA4Destination.erase(settings, {"user_id": "crm-501"})
    assert [(d["property"], d["field"], d["id"]) for d in sandbox.user_deletions] == [
        ("123456789", "clientId", "111.222"),
        ("123456789", "userId", "crm-501"),
    ]
    from google.analytics.admin_v1alpha.types import SubmitUserDeletionRequest

    answer = admin_client(settings).submit_user_deletion(
        request=SubmitUserDeletionRequest(name="properties/123456789", client_id="9.9")
    )
    assert answer.deletion_request_time == NOW


def test_without_the_edit_scope_the_token_is_refused(sandbox: GA4Sandbox) -> None:
    """A read-only grant cannot be refreshed for analytics.edit: permanent, says why."""
    with pytest.raises(PermanentPlatformError, match="invalid_scope"):
        GA4Destination.erase(_settings(sandbox, READONLY_SCOPE), {"client_id": "1.2"})
    token = sandbox.tokens.mint({READONLY_SCOPE})
    answer = requests.post(
        f"{sandbox.url}/v1alpha/properties/123456789:submitUserDeletion",
        json={"clientId": "1.2"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert sandbox.user_deletions == []


@pytest.mark.parametrize(
    "body",
    [{}, {"clientId": "1.2", "userId": "u"}, {"clientId": "1.2", "email": "a@b.example"}],
)
def test_the_user_must_be_exactly_one_known_field(sandbox: GA4Sandbox, body: dict) -> None:
    """The ``user`` oneof: none, two, or an unknown field is INVALID_ARGUMENT."""
    token = sandbox.tokens.mint({EDIT_SCOPE})
    answer = requests.post(
        f"{sandbox.url}/v1alpha/properties/123456789:submitUserDeletion",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert sandbox.user_deletions == []


def test_other_property_is_permanent_and_outage_is_retryable(sandbox: GA4Sandbox) -> None:
    """403 on a property the credentials cannot edit; 503 is worth asking again."""
    with pytest.raises(PermanentPlatformError, match=r"Forbidden.*sufficient permissions"):
        GA4Destination.erase(
            _settings(sandbox, EDIT_SCOPE, property_id="999"), {"client_id": "1.2"}
        )
    sandbox.fail_user_deletions(1)
    with pytest.raises(RetryablePlatformError, match="ServiceUnavailable"):
        GA4Destination.erase(_settings(sandbox, EDIT_SCOPE), {"client_id": "1.2"})
    GA4Destination.erase(_settings(sandbox, EDIT_SCOPE), {"client_id": "1.2"})
    assert len(sandbox.user_deletions) == 1


def test_user_deletion_needs_property_and_credentials() -> None:
    """The config error names the section and what is missing."""
    tree = {
        "database": {"url": "sqlite://"},
        "platforms": {
            "ga4": {
                "enabled": True,
                "measurement_id": "G-ABC123",
                "api_secret": "s",
                "user_deletion": True,
            }
        },
    }
    with pytest.raises(ConfigError, match=r"platforms\.ga4.*user_deletion needs property_id"):
        parse_config(tree, env={})
