"""Make a page view's rows fit their columns, after every normalisation has been applied.

The request schema caps what the client sends, but the stored values are derived: UTM tags and
click IDs are percent-decoded from the URL, sources are lower-cased (``"İ".lower()`` is two
characters), and Meta's ``fbc`` is built around the fbclid. PostgreSQL refuses a value longer
than its ``varchar(n)`` and any string holding a NUL character, which turned valid hits into
500s (SQLite stores both, so the two databases disagreed). Here, once, just before storing:

- NUL characters are removed from every string (they carry no meaning in a URL, a title or a
  tag, and no database column type we use can hold them everywhere);
- free text (titles, paths, source/medium/campaign tags, the user agent) longer than its column
  is cut to the column's length, so the page view is still stored;
- an identifier (fbc, fbp, click IDs, GA IDs) longer than its column is left out, since a
  truncated identifier would be a wrong one; the page view is still stored without it.

Column lengths are read from the table definitions, so they follow the schema.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from sqlalchemy import String, Table

from connector.storage.models import ClickId, Touchpoint, Visitor
from connector.tracking.channels import Source

log = logging.getLogger(__name__)

#: Columns holding free text: cut to length rather than dropped.
TEXT_COLUMNS = frozenset(
    {"title", "path", "source", "medium", "campaign", "term", "content", "user_agent"}
)
CLICK_ID_LENGTH = ClickId.__table__.c.value.type.length


def _lengths(table: Table) -> dict[str, int]:
    return {
        column.name: column.type.length
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    }


_VISITOR_LENGTHS = _lengths(Visitor.__table__)
_TOUCH_LENGTHS = _lengths(Touchpoint.__table__)


def clean(value: str) -> str:
    """``value`` without NUL characters."""
    return value.replace("\x00", "") if "\x00" in value else value


def fit_row(row: dict[str, Any], lengths: dict[str, int]) -> dict[str, Any]:
    """``row`` with NULs removed and every string within its column (see the module doc)."""
    out = dict(row)
    for name, value in row.items():
        if not isinstance(value, str):
            continue
        value = clean(value)
        limit = lengths.get(name)
        if limit is not None and len(value) > limit:
            if name in TEXT_COLUMNS:
                value = value[:limit]
            else:
                log.info("page view: %s longer than %d characters, not stored", name, limit)
                value = None
        out[name] = value
    return out


def fit_visitor(row: dict[str, Any]) -> dict[str, Any]:
    """A ``visitors`` row that the database will take."""
    return fit_row(row, _VISITOR_LENGTHS)


def fit_touchpoint(row: dict[str, Any]) -> dict[str, Any]:
    """A ``touchpoints`` row (without its source columns) that the database will take."""
    return fit_row(row, _TOUCH_LENGTHS)


def fit_source(source: Source) -> Source:
    """The parsed source with NULs removed and each tag within its column."""
    changes = {}
    for name in ("source", "medium", "campaign", "term", "content", "channel"):
        value = getattr(source, name)
        if isinstance(value, str):
            fitted = clean(value)[: _TOUCH_LENGTHS[name]]
            if fitted != value:
                changes[name] = fitted
    return dataclasses.replace(source, **changes) if changes else source


def fit_click_ids(click_ids: dict[str, str]) -> dict[str, str]:
    """Click IDs without NULs; one longer than the column is left out (it would be wrong)."""
    out = {}
    for kind, value in click_ids.items():
        value = clean(value)
        if value and len(value) <= CLICK_ID_LENGTH:
            out[kind] = value
    return out
