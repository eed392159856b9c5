"""One error tree, grouped by what the caller should do about it.

``Retryable`` and ``Permanent`` are mix-ins: a ``PlatformError`` that is also ``Retryable`` is
sent again later, one that is ``Permanent`` becomes a dead letter with its reason.
"""

from __future__ import annotations

from typing import Protocol


class ClosedloopError(Exception):
    """Base of every error closedloop raises on purpose."""


class Retryable:
    """Mix-in: trying again later may succeed (429, 5xx, timeouts)."""

    retry_after: float | None = None


class Permanent:
    """Mix-in: trying again will fail the same way until someone changes something."""


class ConfigError(ClosedloopError, Permanent):
    """The configuration is invalid; the message names the key path."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class SourceError(ClosedloopError):
    """The CRM source failed (HubSpot)."""


class RetryableSourceError(SourceError, Retryable):
    """The CRM asked us to slow down or had a transient fault."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSourceError(SourceError, Permanent):
    """The CRM rejected our credentials or request; a human must act."""


class PlatformError(ClosedloopError):
    """A destination platform failed for a whole request."""

    def __init__(
        self, message: str, *, platform: str, code: str | None = None, deal_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.platform = platform
        self.code = code
        self.deal_id = deal_id


class RetryablePlatformError(PlatformError, Retryable):
    """The platform is rate limiting or unavailable; send again after ``retry_after``."""

    def __init__(
        self,
        message: str,
        *,
        platform: str,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, platform=platform, code=code)
        self.retry_after = retry_after


class PermanentPlatformError(PlatformError, Permanent):
    """The platform refuses this account or request (auth, allowlist, terms)."""


class RequestFailure(Protocol):
    """A platform client's verdict on a whole failed request (its own sorting of the error)."""

    kind: str
    code: str
    message: str
    retry_after: float | None


def request_error(failure: RequestFailure, platform: str) -> PlatformError:
    """The error to raise for a failed request: retryable when ``kind`` is ``retry``.

    One place for the mapping every adapter and spend pull makes from its client's failure
    record (``retry`` keeps the platform's wait; any other kind is permanent).
    """
    if failure.kind == "retry":
        return RetryablePlatformError(
            failure.message, platform=platform, code=failure.code, retry_after=failure.retry_after
        )
    return PermanentPlatformError(failure.message, platform=platform, code=failure.code)


class LeaseHeld(ClosedloopError):
    """Another process holds the sync lease; this run did not start."""

    def __init__(self, holder: str | None) -> None:
        super().__init__(f"a sync is already running (held by {holder or 'unknown'})")
        self.holder = holder
