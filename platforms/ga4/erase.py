"""GA4's User Deletion API: a privacy request deletes the person's client IDs from the property.

``properties.submitUserDeletion`` of the Admin API (v1alpha), through the official
``google-analytics-admin`` client on its REST transport; one call per client ID (or user ID),
as the request takes exactly one. It needs the ``analytics.edit`` scope, which the Data API's
read-only grant lacks, so it is opt-in (``platforms.ga4.user_deletion``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connector.errors import ConfigError, PermanentPlatformError, RetryablePlatformError
from platforms.base import ErasureSubject
from platforms.ga4.settings import GA4Settings
from platforms.google_auth import build_credentials

if TYPE_CHECKING:
    from google.analytics.admin_v1alpha import AnalyticsAdminServiceClient

#: The scope Google documents for properties.submitUserDeletion.
ADMIN_EDIT_SCOPES = ["https://www.googleapis.com/auth/analytics.edit"]
#: The ``user`` fields of SubmitUserDeletionRequest closedloop can fill (it is a oneof).
USER_FIELDS = ("client_id", "user_id")


def erase_requests(settings: GA4Settings, subject: ErasureSubject) -> list[dict[str, Any]]:
    """One deletion per client ID seen (and per user ID sent, when ``send_user_id`` is on)."""
    if not (settings.enabled and settings.user_deletion):
        return []
    items = [{"client_id": c} for c in subject.browser_ids.get("ga_client_id", ())]
    if settings.send_user_id:
        items.extend({"user_id": u} for u in subject.external_ids)
    return items


def admin_client(settings: GA4Settings) -> AnalyticsAdminServiceClient:
    """The official Admin API client at ``admin_api_endpoint`` with the edit scope."""
    from google.analytics.admin_v1alpha import AnalyticsAdminServiceClient

    if not settings.property_id:
        raise ConfigError("property_id is required for user deletion", path="platforms.ga4")
    credentials = build_credentials(
        settings.credentials, ADMIN_EDIT_SCOPES, "platforms.ga4.credentials"
    )
    return AnalyticsAdminServiceClient(
        credentials=credentials,
        transport="rest",
        client_options={"api_endpoint": settings.admin_api_endpoint},
    )


def submit_user_deletion(
    settings: GA4Settings, item: dict[str, Any], *, timeout: float = 30.0
) -> None:
    """Ask GA4 to delete one user; a 429/5xx is retryable, any other refusal permanent."""
    from google.analytics.admin_v1alpha.types import SubmitUserDeletionRequest
    from google.api_core import exceptions as api_errors
    from google.auth import exceptions as auth_errors

    user = {k: str(item[k]) for k in USER_FIELDS if item.get(k)}
    if len(user) != 1:
        raise PermanentPlatformError(
            "a GA4 deletion names exactly one client_id or user_id", platform="ga4"
        )
    request = SubmitUserDeletionRequest(name=f"properties/{settings.property_id}", **user)
    try:
        admin_client(settings).submit_user_deletion(request=request, timeout=timeout)
    except auth_errors.RefreshError as exc:
        raise PermanentPlatformError(
            f"GA4 credentials refresh failed: {exc}", platform="ga4", code="auth"
        ) from None
    except (api_errors.TooManyRequests, api_errors.ServerError) as exc:
        raise RetryablePlatformError(
            f"GA4 {type(exc).__name__}: {exc.message}", platform="ga4", code=type(exc).__name__
        ) from None
    except api_errors.GoogleAPICallError as exc:
        raise PermanentPlatformError(
            f"GA4 {type(exc).__name__}: {exc.message}", platform="ga4", code=type(exc).__name__
        ) from None
    except (OSError, api_errors.RetryError) as exc:  # connection refused, reset, timeout
        raise RetryablePlatformError(str(exc), platform="ga4", code="network") from None
