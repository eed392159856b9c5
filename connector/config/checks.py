"""Field types whose validators catch, at ``config check``, values that would only fail later.

A value that passes here must not make the worker die at start or a platform refuse every
call: an unknown time zone, a URL without a scheme, an origin with a path, the example's
placeholder IDs, an empty secret that would be sent as one.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, AnyHttpUrl, BeforeValidator, SecretStr, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

_HTTP_URL: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


def blank_to_none(value: Any) -> Any:
    """An empty or whitespace-only secret is no secret: treat it as not set.

    ``${HUBSPOT_CLIENT_SECRET:-}`` with the variable unset yields ``''``; kept as a string it
    would sign webhooks with an empty key or send an empty developer token.
    """
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str) and not value.strip():
        return None
    return value


def http_url(value: str) -> str:
    """An absolute ``http(s)://host...`` URL, kept as written."""
    if urlsplit(value).scheme.lower() not in ("http", "https"):
        raise ValueError(f"{value!r} is not a URL: it must start with https:// (or http://)")
    try:
        _HTTP_URL.validate_python(value)
    except PydanticValidationError as exc:
        reason = exc.errors()[0]["msg"]
        raise ValueError(f"{value!r} is not a valid URL ({reason})") from None
    return value


def origin(value: str) -> str:
    """A browser origin ``scheme://host[:port]`` (what the Origin header carries), or ``*``."""
    if value == "*":
        return value
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
    ):
        raise ValueError(
            f"{value!r} is not an origin: write scheme and host only, like https://www.example.com"
        )
    http_url(value)
    return value


def timezone_name(value: str) -> str:
    """An IANA time zone name the scheduler can load (``UTC``, ``Europe/Berlin``)."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{value!r} is not a known time zone (use an IANA name like UTC or Europe/Berlin)"
        ) from None
    return value


def database_url(value: str) -> str:
    """A SQLAlchemy database URL whose dialect exists (``sqlite:///…``, ``postgresql://…``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(value)
    except ArgumentError:
        raise ValueError(
            "not a database URL (like sqlite:///closedloop.db or "
            "postgresql+psycopg://user:pass@host:5432/closedloop)"
        ) from None
    try:
        url.get_dialect()
    except NoSuchModuleError:
        raise ValueError(f"unknown database kind {url.drivername!r}") from None
    return value


#: A secret: ``SecretStr`` that never prints, and ``''`` / whitespace mean "not set".
Secret = Annotated[SecretStr | None, BeforeValidator(blank_to_none)]
HttpUrl = Annotated[str, AfterValidator(http_url)]
Origin = Annotated[str, AfterValidator(origin)]
TimeZone = Annotated[str, AfterValidator(timezone_name)]
DatabaseUrl = Annotated[str, AfterValidator(database_url)]
