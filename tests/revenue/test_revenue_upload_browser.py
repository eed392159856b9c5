"""The revenue upload page in headless Chromium: choose a file, map, preview, import."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from connector.app import create_app
from connector.revenue.kick import EXTENSION
from connector.runtime import Runtime
from connector.storage.models import RevenueMapping, RevenueSale
from tests.revenue.conftest import journey
from tests.revenue.upload_helpers import DASH_TOKEN, SALES_CSV, count

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture
def served(make_settings, revenue_config, tmp_path) -> Iterator[tuple[str, Runtime, Any]]:
    """The app with a dashboard login and the sandboxes, on a threaded server at a free port."""
    config = {
        **revenue_config,
        "dashboard": {
            "token": DASH_TOKEN,
            "secret_key": "k" * 32,
            "upload_dir": str(tmp_path / "uploads"),
        },
        "revenue": {**revenue_config["revenue"], "sync_after_seconds": 0.2},
    }
    runtime = Runtime.from_settings(make_settings(config))
    app = create_app(runtime=runtime)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", runtime, app
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions[EXTENSION].cancel()
        app.extensions["closedloop.runs"].wait_idle(60)
        runtime.close()


def test_upload_preview_map_and_import_in_chromium(served, sandboxes, tmp_path):
    """A user maps two columns, sees the sends per platform, skips the bad row, imports."""
    from playwright.sync_api import sync_playwright

    base, runtime, _app = served
    journey(runtime, "ann@example.com")
    csv = tmp_path / "orders.csv"
    csv.write_text(SALES_CSV)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: "Content Security Policy" in msg.text and errors.append(msg.text),
            )
            page.goto(f"{base}/dashboard/")
            page.fill("input[name=password]", DASH_TOKEN)
            page.click("button[type=submit]")
            page.click("text=Import revenue")
            page.fill("input[name=source]", "shop")
            page.set_input_files("input[type=file]", str(csv))
            page.click("#upload button[type=submit]")
            page.wait_for_selector("#columns")
            assert "no column is mapped" in page.locator("#errors").inner_text()

            page.select_option("select[name=map-0]", "order_id")
            page.select_option("select[name=map-1]", "value")
            page.click("#preview-again")
            page.wait_for_selector("#would-send")
            google = page.locator("#would-send tr[data-platform=google_ads] td").all_inner_texts()
            assert google[:2] == ["google_ads", "2"]
            assert page.locator("#matched").inner_text() == "1"
            assert "must be a number" in page.locator("#errors").inner_text()
            assert count(runtime, RevenueSale) == 0  # the preview stored nothing

            page.check("input[name=skip_bad_rows]")
            page.click("#import")
            page.wait_for_selector("#imported")
            assert page.locator("#stored").inner_text() == "2"
            assert page.locator("#skipped").inner_text() == "1"
        finally:
            browser.close()
    assert errors == []
    assert count(runtime, RevenueSale) == 2 and count(runtime, RevenueMapping) == 1
    google = sandboxes["google_ads"]
    deadline = time.monotonic() + 60
    while len(google.accepted) < 2:  # the import kicked a run: no sync is called here
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert sorted(g["transaction_id"] for g in google.accepted) == [
        "cl-revenue_shop_A1-closed_won",
        "cl-revenue_shop_A2-closed_won",
    ]
