"""The dashboard's revenue upload: a preview that stores nothing, then the CLI's import."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connector.app import create_app
from connector.dashboard import uploads
from connector.revenue.preview import preview_file
from connector.runtime import Runtime
from connector.storage.models import Conversion, Deal, RevenueMapping, RevenueSale
from tests.revenue.conftest import journey
from tests.revenue.upload_helpers import (
    DASH_TOKEN,
    MAPPING,
    SALES_CSV,
    count,
    log_in,
    tables,
    token_of,
    upload,
)


@pytest.fixture
def upload_config(revenue_config, tmp_path) -> dict[str, Any]:
    """The revenue config with a dashboard login and an upload directory of the test's own."""
    return {
        **revenue_config,
        "dashboard": {
            "token": DASH_TOKEN,
            "secret_key": "k" * 32,
            "upload_dir": str(tmp_path / "uploads"),
        },
    }


@pytest.fixture
def upload_runtime(make_settings, upload_config) -> Iterator[Runtime]:
    """A migrated runtime with the upload config."""
    rt = Runtime.from_settings(make_settings(upload_config))
    yield rt
    rt.close()


@pytest.fixture
def browser(upload_runtime) -> Iterator[Any]:
    """A test client of the app (cookies kept, like a browser)."""
    app = create_app(runtime=upload_runtime)
    app.config["TESTING"] = True
    yield app.test_client()
    app.extensions["closedloop.runs"].wait_idle(30)


def _previewed(browser: Any) -> tuple[str, str]:
    """Log in, upload SALES_CSV, map its columns; (csrf, upload token)."""
    csrf = log_in(browser)
    token = token_of(upload(browser, csrf, SALES_CSV).get_data(as_text=True))
    return csrf, token


def test_the_preview_shows_columns_errors_matches_and_sends_and_stores_nothing(
    browser, upload_runtime
):
    """Detected columns, unmapped fields, then per-row errors, matches and per-platform sends."""
    journey(upload_runtime, "ann@example.com")
    csrf = log_in(browser)
    first = upload(browser, csrf, SALES_CSV)
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    found = tables(page)
    # Columns named like a field are mapped; Order and Amount are not, so nothing is checked.
    assert found["columns"][1:] == [
        ["Order", "[]"],
        ["Amount", "[]"],
        ["currency", "[currency]"],
        ["time", "[time]"],
        ["email", "[email]"],
        ["gclid", "[gclid]"],
    ]
    assert ["order_id", "1"] in found["errors-by-field"]
    again = browser.post(
        "/dashboard/revenue/preview", data={"csrf": csrf, "token": token_of(page), **MAPPING}
    )
    assert again.status_code == 200
    page = again.get_data(as_text=True)
    found = tables(page)
    assert 'id="rows">3<' in page and 'id="bad-rows">1<' in page
    assert found["errors"][1:] == [["4", "value", "must be a number"]]
    assert 'id="matched">1<' in page  # ann's tracked journey; nobody@ was never seen
    # Google takes a gclid or a hashed email, Meta a hashed email, GA4 only a client ID.
    assert found["would-send"][1:] == [
        ["google_ads", "2", "0", "0", ""],
        ["ga4", "1", "0", "0", "no eligible identifier: 1"],
        ["meta", "2", "0", "0", ""],
    ]
    assert [count(upload_runtime, m) for m in (RevenueSale, Deal, Conversion)] == [0, 0, 0]
    assert count(upload_runtime, RevenueMapping) == 0


def test_import_with_skip_stores_the_good_rows_and_saves_the_mapping(browser, upload_runtime):
    """Confirming with "skip bad rows" stores 2 of 3, lists line 4, keeps the mapping."""
    csrf, token = _previewed(browser)
    answer = browser.post(
        "/dashboard/revenue/import",
        data={"csrf": csrf, "token": token, "skip_bad_rows": "1", **MAPPING},
    )
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert 'id="stored">2<' in page and 'id="skipped">1<' in page
    assert tables(page)["skipped-rows"][1:] == [["4", "value", "must be a number"]]
    assert count(upload_runtime, RevenueSale) == 2
    with upload_runtime.sessions() as session:
        saved = session.get(RevenueMapping, "import")
        assert saved is not None
        assert saved.mapping == {
            "Order": "order_id",
            "Amount": "value",
            "currency": "currency",
            "time": "time",
            "email": "email",
            "gclid": "gclid",
        }
    # The same file again, for the same source: mapped by the saved mapping, nothing new.
    page = upload(browser, csrf, SALES_CSV).get_data(as_text=True)
    assert tables(page)["columns"][1:3] == [["Order", "[order_id]"], ["Amount", "[value]"]]
    assert tables(page)["outcomes"][:3] == [
        ["New sales", "0"],
        ["Changed sales (restated or retracted)", "0"],
        ["Already stored, unchanged", "2"],
    ]


def test_a_file_with_bad_rows_imports_nothing_without_skip(browser, upload_runtime):
    """Without "skip bad rows" the bad row stops the import: 400, nothing stored."""
    csrf, token = _previewed(browser)
    answer = browser.post(
        "/dashboard/revenue/import", data={"csrf": csrf, "token": token, **MAPPING}
    )
    assert answer.status_code == 400
    assert "Nothing imported: 1 row(s) have errors" in answer.get_data(as_text=True)
    assert count(upload_runtime, RevenueSale) == 0


def test_forms_need_the_login_and_the_csrf_token(browser, upload_runtime):
    """No session: 401; a forged token: 400; the form page sends a visitor to the login."""
    assert upload(browser, "x", SALES_CSV).status_code == 401
    assert browser.get("/dashboard/revenue/").status_code == 302
    log_in(browser)
    forged = upload(browser, "forged", SALES_CSV)
    assert forged.status_code == 400 and "csrf" in forged.get_json()["detail"]
    assert count(upload_runtime, RevenueSale) == 0


def test_a_token_of_another_upload_is_refused(browser, upload_runtime):
    """Importing needs this session's current upload: another token is a 400 page."""
    csrf, _ = _previewed(browser)
    answer = browser.post(
        "/dashboard/revenue/import", data={"csrf": csrf, "token": "A" * 32, **MAPPING}
    )
    assert answer.status_code == 400
    assert "upload the file again" in answer.get_data(as_text=True)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"Order,Amount\nA1,\xe9t\xe9\n", "not UTF-8 text"),  # Latin-1, not UTF-8
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8 text"),
        (b"", "order_id no column is mapped"),
        (
            SALES_CSV.replace("Order,Amount", "order_id,value").encode()
            + b"A9,1,EUR,2026-01-01,x@example.com,,extra\n",
            "5 row has more cells than the header",
        ),
    ],
)
def test_a_bad_file_is_a_page_that_names_the_problem(browser, upload_runtime, content, expected):
    """Binary, another encoding, empty or ragged: a page with the error, never a 5xx."""
    csrf = log_in(browser)
    answer = upload(browser, csrf, content)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert expected in " ".join(" ".join(r) for r in tables(page).get("errors", []))
    assert count(upload_runtime, RevenueSale) == 0


def test_a_source_name_is_checked_and_a_file_is_needed(browser):
    """A source that is not 1-15 of a-z0-9 is named on the page (400); so is a missing file."""
    csrf = log_in(browser)
    empty = browser.post("/dashboard/revenue/preview", data={"csrf": csrf, "source": "shop"})
    assert empty.status_code == 400 and "Choose a CSV file" in empty.get_data(as_text=True)
    answer = upload(browser, csrf, SALES_CSV, source="Bad Name")
    assert answer.status_code == 400 and "source: 1 to 15" in answer.get_data(as_text=True)


def test_the_upload_cap_is_its_own_and_named_when_passed(make_settings, upload_config, make_app):
    """The page takes files over server.max_body_bytes, up to dashboard.max_upload_bytes."""
    config = {
        **upload_config,
        "server": {"max_body_bytes": 1024},
        "dashboard": {**upload_config["dashboard"], "max_upload_bytes": 4096},
    }
    client = make_app(make_settings(config)).test_client()
    csrf = log_in(client)
    bigger_than_bodies = SALES_CSV + "".join(
        f"B{i},1,EUR,{'2026-11-01T00:00:00+00:00'},b{i}@example.com,\n" for i in range(30)
    )
    assert 1024 < len(bigger_than_bodies) < 4000
    assert upload(client, csrf, bigger_than_bodies).status_code == 200
    too_big = upload(client, csrf, "x" * 5000)
    assert too_big.status_code == 413
    assert "dashboard.max_upload_bytes (4096 bytes)" in too_big.get_json()["detail"]
    other = client.post("/revenue", data="x" * 2000, headers={"Content-Type": "application/json"})
    assert other.status_code == 413 and "server.max_body_bytes" in other.get_json()["detail"]


def test_the_preview_plans_only_its_first_rows(upload_runtime, tmp_path):
    """With a limit of 1, one row is planned, yet every row of the file is checked."""
    path = tmp_path / "sales.csv"
    path.write_text(SALES_CSV)
    mapping = {"Order": "order_id", "Amount": "value"}
    result = preview_file(upload_runtime, path, mapping, "shop", limit=1)
    assert (result.sampled, result.report.rows, result.report.bad_rows) == (1, 3, 1)
    assert sum(sum(c.values()) for c in result.planned.values()) + sum(
        sum(c.values()) for c in result.not_planned.values()
    ) == len(result.destinations)


def test_abandoned_uploads_are_swept(tmp_path: Path):
    """A staged file older than six hours goes at the next upload; a fresh one stays."""
    import io
    import os
    import time

    folder = uploads.directory(str(tmp_path / "u"))
    old = uploads.stage(folder, io.BytesIO(b"a"))
    new = uploads.stage(folder, io.BytesIO(b"b"))
    stale = time.time() - uploads.MAX_AGE_SECONDS - 60
    os.utime(folder / f"{old}.csv", (stale, stale))
    assert uploads.sweep(folder) == 1
    assert uploads.staged(folder, old) is None and uploads.staged(folder, new) is not None
    assert uploads.staged(folder, "../etc/passwd") is None
