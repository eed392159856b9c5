"""Helpers for the upload page's tests: a logged-in client, forms, and tables read from HTML."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import func, select

from connector.storage.models import utcnow

DASH_TOKEN = "dash-upload-token"
YESTERDAY = (utcnow() - timedelta(days=1)).isoformat()
#: Two good rows (a tracked buyer, one the snippet never saw) and one with a bad value; the
#: order and amount columns are not named like fields, so they need mapping.
SALES_CSV = (
    "Order,Amount,currency,time,email,gclid\n"
    f"A1,10.50,EUR,{YESTERDAY},ann@example.com,G-SHOP-1\n"
    f"A2,20,EUR,{YESTERDAY},nobody@example.com,\n"
    f"A3,ten,EUR,{YESTERDAY},c@example.com,\n"
)
#: map-<n> for the columns above: Order, Amount, then the ones named like their field.
MAPPING = {
    "map-0": "order_id",
    "map-1": "value",
    "map-2": "currency",
    "map-3": "time",
    "map-4": "email",
    "map-5": "gclid",
}


def csrf_of(page: str) -> str:
    """The form token in a page."""
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def token_of(page: str) -> str:
    """The upload token in a preview page."""
    match = re.search(r'name="token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def log_in(client: Any) -> str:
    """Log in with the dashboard token; the upload form's CSRF token."""
    form = client.get("/dashboard/").get_data(as_text=True)
    answer = client.post(
        "/dashboard/login", data={"csrf": csrf_of(form), "username": "", "password": DASH_TOKEN}
    )
    assert answer.status_code == 302
    return csrf_of(client.get("/dashboard/revenue/").get_data(as_text=True))


def upload(client: Any, csrf: str, text: str | bytes, source: str = "import") -> Any:
    """Post a file to the preview."""
    data = text.encode() if isinstance(text, str) else text
    return client.post(
        "/dashboard/revenue/preview",
        data={"csrf": csrf, "source": source, "file": (io.BytesIO(data), "sales.csv")},
        content_type="multipart/form-data",
    )


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._option = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "option" and self._cell is not None:
            self._option = True
            if "selected" in dict(attrs):
                self._cell.append(f"[{dict(attrs).get('value')}]")

    def handle_endtag(self, tag: str) -> None:
        if tag == "option":
            self._option = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._option:
            self._cell.append(data)


def tables(page: str) -> dict[str, list[list[str]]]:
    """Every table of the page by id: rows of cell texts (a selected option as ``[value]``)."""
    parser = _Tables()
    parser.feed(page)
    return parser.tables


def count(runtime: Any, model: Any) -> int:
    """Rows of ``model``'s table."""
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))
