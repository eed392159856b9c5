"""Erase a person from the outbox: identifiers go, amounts, statuses and dedup keys stay.

Delivered rows are the history that stops a later sync from sending a deal again (their dedup
keys), so they are kept, but what identified the person in them (hashed emails and phones,
click IDs, browser IDs, IP, user agent, page URL) is removed. A row not yet sent loses the
person's identifiers too; if nothing is left to identify anyone by, it is finished as
``skipped`` (reason ``erased``) instead of deleted, so its dedup key still blocks a re-plan.

Rows belong to the person when their deal is one of the person's (a CRM contact of theirs, or
attributed to one of their touches) or when their identifiers carry one of the person's
values; the text search that finds the latter is only a pre-filter, each row is then checked
value by value so nobody else's row is touched by a lookalike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from connector.storage.models import Conversion
from connector.sync.identifiers import identifiable

PENDING, SKIPPED = "pending", "skipped"
ERASED_CODE = "erased"
ERASED_REASON = "erased on a privacy request; never sent"
REDACTED = "[erased]"
#: Identifier fields that are not about who the person is, kept on scrubbed rows.
KEPT_FIELDS = ("consent_ad_user_data", "consent_ad_personalization")
#: Hash lists from which only the person's own values are removed: a deal with several
#: contacts carries the others' hashes too, and they are not being erased.
SHARED_LISTS = ("email_sha256", "phone_sha256")
#: Shorter values are matched only as whole values, never inside free text (an error message
#: mentioning "F1" is not about a click ID "F1").
MIN_SUBSTRING = 6
LIKE_CHUNK = 50


@dataclass
class OutboxErasure:
    """What the scrub did, and what the platforms' erase hooks need from the rows."""

    scrubbed: int = 0
    withdrawn: int = 0
    #: Browser IDs and external IDs the scrubbed rows carried (GA4's client and user IDs).
    browser_ids: dict[str, set[str]] = field(default_factory=dict)
    external_ids: set[str] = field(default_factory=set)


def scrub(
    session: Session, deal_ids: Iterable[str], tokens: Iterable[str], browser_fields: Iterable[str]
) -> OutboxErasure:
    """Scrub the person's rows (see the module docstring); ``tokens`` are their values."""
    values = {t for t in tokens if t}
    deals = sorted(set(deal_ids))
    wanted = tuple(browser_fields)
    out = OutboxErasure()
    seen: set[int] = set()
    for row in _candidates(session, deals, values):
        if row.id in seen:
            continue
        seen.add(row.id)
        ids = dict(row.identifiers or {})
        if row.deal_id not in deals and not _carries(ids, values):
            continue  # the text pre-filter matched something else
        for name in wanted:
            if isinstance(ids.get(name), str) and ids[name]:
                out.browser_ids.setdefault(name, set()).add(ids[name])
        if isinstance(ids.get("external_id"), str) and ids["external_id"]:
            out.external_ids.add(ids["external_id"])
        _scrub_row(row, ids, values, out)
    return out


def _candidates(session: Session, deals: list[str], values: set[str]) -> Iterable[Conversion]:
    """Rows of the deals, then rows whose identifiers' text holds a value as a JSON string."""
    for start in range(0, len(deals), 500):
        yield from session.scalars(
            select(Conversion).where(Conversion.deal_id.in_(deals[start : start + 500]))
        )
    text = cast(Conversion.identifiers, String)
    quoted = sorted(values)
    for start in range(0, len(quoted), LIKE_CHUNK):
        chunk = quoted[start : start + LIKE_CHUNK]
        yield from session.scalars(
            select(Conversion).where(
                or_(*(text.like(f'%"{_escape(v)}"%', escape="\\") for v in chunk))
            )
        )


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _carries(value: Any, values: set[str]) -> bool:
    """Whether any string inside ``value`` is exactly one of ``values``."""
    if isinstance(value, str):
        return value in values
    if isinstance(value, dict):
        return any(_carries(v, values) for v in value.values())
    if isinstance(value, list):
        return any(_carries(v, values) for v in value)
    return False


def _scrub_row(row: Conversion, ids: dict[str, Any], values: set[str], out: OutboxErasure) -> None:
    kept: dict[str, Any] = {k: ids[k] for k in KEPT_FIELDS if k in ids}
    for name in SHARED_LISTS:
        others = [h for h in ids.get(name) or [] if h not in values]
        if others:
            kept[name] = others
    changed = kept != ids
    if changed:
        row.identifiers = kept
    diagnostics = _redact(row.diagnostics, values)
    if diagnostics != row.diagnostics:
        row.diagnostics = diagnostics
        changed = True
    reason = _redact(row.reason, values)
    if reason != row.reason:
        row.reason = reason
        changed = True
    if row.status == PENDING and not identifiable(row.destination, kept):
        row.status = SKIPPED
        row.reason_code, row.reason = ERASED_CODE, ERASED_REASON
        row.next_attempt_at = None
        row.claimed_by = row.claimed_until = None  # a worker holding it cannot write it back
        out.withdrawn += 1
    elif changed:
        out.scrubbed += 1


def _redact(value: Any, values: set[str]) -> Any:
    """``value`` with the person's values replaced (whole strings, or inside longer text)."""
    if isinstance(value, str):
        if value in values:
            return REDACTED
        for token in values:
            if len(token) >= MIN_SUBSTRING and token in value:
                value = value.replace(token, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: _redact(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, values) for v in value]
    return value
