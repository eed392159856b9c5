"""Request bodies of /collect and /identify: strict, bounded, URLs must be http(s).

Unknown fields are errors (a typo in a site's integration should fail loudly), every string has
a length cap (the database columns have one too), and URLs are checked for scheme and host so
that ``javascript:`` or ``data:`` values never reach storage.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

CLICK_ID_KINDS = ("gclid", "gbraid", "wbraid", "fbclid", "msclkid", "ttclid", "li_fat_id")
UTM_KEYS = ("source", "medium", "campaign", "term", "content")
MAX_URL = 4096


_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


def _http_url(value: str) -> str:
    """Accept only absolute http(s) URLs with a host and no whitespace or control characters."""
    if _UNSAFE.search(value):
        raise ValueError("must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError("must be an absolute http(s) URL")
    return value


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


def _fits_lowercased(limit: int) -> Any:
    """The length cap applied to the lower-cased value, the form that is stored.

    ``"İ".lower()`` is two characters, so 255 of them fit the schema but not the column.
    """

    def check(value: str) -> str:
        if len(value.lower()) > limit:
            raise ValueError(f"is longer than {limit} characters once lower-cased")
        return value

    return AfterValidator(check)


HttpUrl = Annotated[
    str,
    Field(min_length=8, max_length=MAX_URL, pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+"),
    AfterValidator(_http_url),
]
Text255 = Annotated[str, Field(max_length=255)]
Tag255 = Annotated[str, Field(max_length=255), _fits_lowercased(255)]
Email = Annotated[str, Field(max_length=320), _fits_lowercased(320)]
Token = Annotated[str, Field(max_length=512, pattern=r"^[\x21-\x7e]+$")]
VisitorId = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
EpochMillis = Annotated[int, Field(ge=0, le=32503680000000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strip_nul(cls, value: Any) -> Any:
        """NUL characters mean nothing in any of these fields, and PostgreSQL cannot store them."""
        return value.replace("\x00", "") if isinstance(value, str) else value


class Utm(_Strict):
    """UTM tags the snippet read from the landing URL (the server also parses the URL)."""

    source: Tag255 | None = None
    medium: Tag255 | None = None
    campaign: Text255 | None = None
    term: Text255 | None = None
    content: Text255 | None = None


class ClickIds(_Strict):
    """Ad click IDs found on the URL."""

    gclid: Token | None = None
    gbraid: Token | None = None
    wbraid: Token | None = None
    fbclid: Token | None = None
    msclkid: Token | None = None
    ttclid: Token | None = None
    li_fat_id: Token | None = None


class Consent(_Strict):
    """The visitor's consent for ad measurement (Google's consent mode signals).

    JSON booleans only: a ``0`` or ``"no"`` is a mistake in the site's integration, and reading
    it as a choice the visitor made would be a guess.
    """

    ad_user_data: StrictBool | None = None
    ad_personalization: StrictBool | None = None


class PageView(_Strict):
    """One page view from the snippet."""

    visitor_id: VisitorId
    url: HttpUrl
    referrer: HttpUrl | None = None
    title: Annotated[str, Field(max_length=512)] | None = None
    ts: EpochMillis | None = Field(default=None, description="client time, ms since epoch")
    utm: Utm | None = None
    click_ids: ClickIds | None = None
    ga_client_id: Annotated[str, Field(max_length=64, pattern=r"^[0-9.]+$")] | None = None
    ga_session_id: Annotated[str, Field(max_length=32, pattern=r"^[0-9]+$")] | None = None
    # Meta's cookies as the page read them: a malformed one is dropped (and counted) when the
    # hit is stored, never a reason to refuse the page view (see platforms/meta/cookies.py).
    fbp: Annotated[str, Field(max_length=4096)] | None = None
    fbc: Annotated[str, Field(max_length=4096)] | None = None
    hubspotutk: Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9]+$")] | None = None
    consent: Consent | None = None
    #: ``consent``: the page's consent changed after its page view (Consent Mode update or
    #: ``closedloop.consent``); stored as a consent update, not as a page view.
    event: Literal["page_view", "consent"] = "page_view"

    @model_validator(mode="before")
    @classmethod
    def _blank_referrer(cls, data: Any) -> Any:
        """Browsers send an empty referrer for direct visits; treat it as absent."""
        if isinstance(data, dict) and "referrer" in data:
            data = {**data, "referrer": _empty_to_none(data["referrer"])}
        return data


class Identify(_Strict):
    """A visitor became a lead (form) or called (telephony webhook, token-protected)."""

    kind: Literal["form", "call"] = "form"
    visitor_id: VisitorId | None = None
    email: Email | None = None
    phone: Annotated[str, Field(max_length=64)] | None = None
    page_url: HttpUrl | None = None
    ts: EpochMillis | None = None

    def problems(self) -> list[dict[str, str]]:
        """Cross-field rules, reported against the field to fix."""
        if not self.email and not self.phone:
            return [{"field": "email", "message": "give email or phone"}]
        if self.kind == "form" and not self.visitor_id:
            return [{"field": "visitor_id", "message": "required for kind=form"}]
        return []


class Forget(_Strict):
    """Whom to erase: by email, or by visitor ID (and the person it belongs to)."""

    email: Email | None = None
    visitor_id: VisitorId | None = None

    def problems(self) -> list[dict[str, str]]:
        """Exactly one of the two keys."""
        if bool(self.email) == bool(self.visitor_id):
            return [{"field": "email", "message": "give exactly one of email or visitor_id"}]
        return []


class ForgetPlace(BaseModel):
    """One outside system in an erase report: what it was asked and how it went."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["crm", "destination"]
    asked: int = Field(ge=0, description="items asked to erase (contacts, client IDs)")
    done: int = Field(ge=0, description="confirmed by the platform")
    pending: int = Field(ge=0, description="failed for now; asked again later")
    failed: int = Field(ge=0, description="refused for good; fix, then forget --retry --failed")
    erased: dict[str, int] = Field(description="what was erased (contacts, properties, users)")
    errors: list[str] = Field(description="the platforms' errors, for the items not done")


class ForgetReport(BaseModel):
    """``POST /privacy/forget``: per place, what was erased. A repeat request reports zeros."""

    model_config = ConfigDict(extra="forbid")

    removed: dict[str, int] = Field(description="rows deleted from our tables, per table")
    outbox: dict[Literal["scrubbed", "withdrawn"], int] = Field(
        description="outbox rows stripped of the person's identifiers (amounts, statuses and "
        "dedup keys kept), and unsent rows withdrawn (finished as skipped, reason erased)"
    )
    places: dict[str, ForgetPlace] = Field(description="outside systems asked, by registry name")
    complete: bool = Field(description="every outside system confirmed this request's erasures")
    outstanding: dict[Literal["pending", "failed"], int] = Field(
        description="outside erasures not yet done, across all privacy requests"
    )


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic errors as ``[{"field": "click_ids.gclid", "message": ...}]`` (no input echo)."""
    out = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(p) for p in error["loc"]) or "body"
        message = error["msg"].removeprefix("Value error, ")
        out.append({"field": field, "message": message})
    return out


def openapi_schemas() -> dict[str, Any]:
    """JSON schemas of the bodies, as OpenAPI components (refs point at components)."""
    schemas: dict[str, Any] = {}
    for model in (PageView, Identify, Forget, ForgetReport):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas
