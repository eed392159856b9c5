"""The dashboard in headless Chromium over the demo world: login, tables, charts, sort, sync."""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from reports_conftest import PASSWORD, USERNAME, add_attributions
from sqlalchemy import func, select
from werkzeug.serving import make_server

from connector.demo.generator import STAGES, World, generate
from connector.storage.models import (
    Conversion,
    CrmStage,
    Deal,
    DealStageEvent,
    Lead,
    Person,
    SpendDaily,
    SyncRun,
    Touchpoint,
    Visitor,
    utcnow,
)
from connector.tracking.channels import click_ids_in, parse_source, query_params

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin"),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CANVAS_INK = """(id) => {
  const c = document.getElementById(id);
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;
  for (let i = 3; i < px.length; i += 4) { if (px[i] > 0) { ink++; } }
  return {width: c.width, height: c.height, ink: ink};
}"""
COLUMN_VALUES = """(index) => Array.from(document.querySelectorAll('#sources tbody tr'))
  .map((r) => parseFloat(r.cells[index].getAttribute('data-v')))"""


def seed_world(sessions, world: World) -> None:
    """The generator's world as the tracker and the sync would have stored it."""
    with sessions.begin() as s:
        visitor_touches: dict[str, list[Touchpoint]] = {}
        next_id = 1
        for visitor in world.visitors:
            s.add(Visitor(id=visitor.id, first_seen_at=visitor.page_views[0].ts))
            session_id = None
            for view in visitor.page_views:
                params = query_params(view.url)
                src = parse_source(view.url, view.referrer, {}, click_ids_in(params))
                tp = Touchpoint(
                    id=next_id,
                    visitor_id=visitor.id,
                    occurred_at=view.ts,
                    url=view.url,
                    referrer=view.referrer,
                    source=src.source,
                    medium=src.medium,
                    campaign=src.campaign,
                    term=src.term,
                    channel=src.channel,
                    is_new_session=view.ga_session_id != session_id,
                )
                session_id = view.ga_session_id
                next_id += 1
                visitor_touches.setdefault(visitor.id, []).append(tp)
        s.flush()
        s.add_all(tp for touches in visitor_touches.values() for tp in touches)
        people: dict[str, int] = {}
        person_touches: dict[int, list[Touchpoint]] = {}
        for index, lead in enumerate(world.leads, start=1):
            digest = hashlib.sha256(lead.crm_email.encode()).hexdigest()
            s.add(Person(id=index, email_sha256=digest, crm_contact_id=f"c{index}"))
            s.flush()
            people[lead.crm_email] = index
            for visitor_id in lead.visitor_ids:
                s.get(Visitor, visitor_id).person_id = index
                person_touches.setdefault(index, []).extend(visitor_touches[visitor_id])
            s.add(
                Lead(
                    person_id=index,
                    visitor_id=lead.visitor_ids[0],
                    kind=lead.kind,
                    occurred_at=lead.ts,
                )
            )
        order = {stage: i for i, (stage, _, _) in enumerate(STAGES)}
        s.add_all(
            CrmStage(
                pipeline="default",
                stage=stage,
                label=label,
                display_order=order[stage],
                probability=Decimal(str(p)),
                is_closed=stage.startswith("closed"),
                is_won=stage == "closedwon",
            )
            for stage, label, p in STAGES
        )
        for index, spec in enumerate(world.deals, start=1):
            deal_id = f"deal-{index}"
            close = spec.stages[-1][1]
            ids = [people[e] for e in spec.contact_emails if e in people]
            touches = sorted(
                (t for pid in ids for t in person_touches.get(pid, []) if t.occurred_at <= close),
                key=lambda t: (t.occurred_at, t.id),
            )
            s.add(
                Deal(
                    id=deal_id,
                    name=spec.name,
                    pipeline="default",
                    stage=spec.stages[-1][0],
                    is_won=spec.won,
                    is_closed=True,
                    amount=spec.amount,
                    currency=spec.currency,
                    created_time=spec.created,
                    close_time=close,
                    contact_ids=[f"c{i}" for i in ids] or [f"untracked-{index}"],
                    first_touch_channel=touches[0].channel if touches else None,
                    first_touch_source=f"{touches[0].source} / {touches[0].medium}"
                    if touches
                    else None,
                    last_touch_channel=touches[-1].channel if touches else None,
                    last_touch_source=f"{touches[-1].source} / {touches[-1].medium}"
                    if touches
                    else None,
                    match_status="matched" if touches else "no_journey",
                )
            )
            s.flush()
            s.add_all(
                DealStageEvent(deal_id=deal_id, pipeline="default", stage=stage, entered_at=ts)
                for stage, ts in spec.stages
            )
            if not spec.won:
                continue
            if touches:
                add_attributions(s, deal_id, spec.amount, spec.currency, close, touches)
            channels = {t.channel for t in touches}
            outcomes = {
                "google_ads": ("accepted", None)
                if "Paid Search" in channels
                else ("skipped", "NO_CLICK_ID"),
                "meta": ("accepted", None)
                if "Paid Social" in channels
                else ("skipped", "NO_FBC_OR_EMAIL_MATCH"),
                "ga4": ("dead", "HTTP_503") if index % 11 == 0 else ("accepted", None),
            }
            for destination, (status, code) in outcomes.items():
                s.add(
                    Conversion(
                        deal_id=deal_id,
                        destination=destination,
                        event_name="purchase",
                        dedup_key=f"{deal_id}-{destination}",
                        value=spec.amount,
                        currency=spec.currency,
                        event_time=close,
                        status=status,
                        reason_code=code,
                        reason=code and code.replace("_", " ").lower(),
                    )
                )
        for row in world.spend:
            google = row.platform == "google_ads"
            s.add(
                SpendDaily(
                    platform=row.platform,
                    day=row.day.isoformat(),
                    campaign_id=row.campaign_id,
                    campaign=row.campaign,
                    ad_group_id=row.group,
                    ad_group=row.group,
                    keyword_id=row.group if google else "",
                    keyword=row.group if google else None,
                    source="google" if google else "facebook",
                    medium="cpc" if google else "paid_social",
                    channel="Paid Search" if google else "Paid Social",
                    currency="USD",
                    cost=row.cost,
                    clicks=row.clicks,
                    impressions=row.impressions,
                )
            )


@pytest.fixture
def served(make_settings, make_app, dashboard_config) -> Iterator[tuple[str, object]]:
    """The real app over the demo world on a threaded werkzeug server at a free port."""
    config = {**dashboard_config, "reports": {"fx_rates": {"GBP": "1.27", "EUR": "1.08"}}}
    app = make_app(make_settings(config))
    seed_world(app.extensions["closedloop"].sessions, generate(visitors=240, seed=7, now=utcnow()))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(10)
        app.extensions["closedloop.runs"].wait_idle(30)


def distinct_png_bytes(path: Path) -> int:
    """How many different byte values the PNG's decompressed scanlines hold (blank ≈ 2)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, idat = 8, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        if kind == b"IDAT":
            idat += data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    return len(set(zlib.decompress(idat)))


def test_dashboard_in_chromium(served, tmp_path):
    """Log in, see tables and three drawn charts, sort a column, sync now, non-blank screenshot."""
    from playwright.sync_api import sync_playwright

    base, app = served
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # The CSP must not block anything the dashboard itself needs (Chart.js included).
            page.on(
                "console",
                lambda msg: "Content Security Policy" in msg.text and errors.append(msg.text),
            )
            page.goto(f"{base}/dashboard/")
            page.fill("input[name=username]", USERNAME)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_selector("#sources tbody tr")

            groups = page.locator("#sources tbody tr td:first-child").all_inner_texts()
            assert {"Paid Search", "Paid Social", "Organic Search"} <= set(groups)
            assert page.locator("#sources tfoot th").first.inner_text() == "Total"
            assert page.locator("table").count() >= 4  # sources, opportunities, models, delivery
            for chart in ("chart-revenue", "chart-funnel", "chart-timeline"):
                drawn = page.evaluate(CANVAS_INK, chart)
                assert drawn["width"] > 100 and drawn["height"] > 50, (chart, drawn)
                assert drawn["ink"] > 500, (chart, drawn)

            visits = page.locator("#sources thead th", has_text="Visits")
            visits.click()
            descending = page.evaluate(COLUMN_VALUES, 1)
            assert descending == sorted(descending, reverse=True)
            visits.click()
            ascending = page.evaluate(COLUMN_VALUES, 1)
            assert ascending == sorted(ascending) and ascending != descending
            assert visits.get_attribute("aria-sort") == "ascending"

            page.click("#sync-now")
            page.wait_for_selector(".notice")
            assert "Sync started" in page.locator(".notice").inner_text()
            assert page.locator("#runs tbody tr").count() >= 1
            assert "dashboard" in page.locator("#runs tbody tr").first.inner_text()

            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)

            page.click("text=Log out")
            page.wait_for_selector("input[name=password]")
            page.goto(f"{base}/dashboard/")
            assert page.locator("#sources").count() == 0
        finally:
            browser.close()
    assert errors == []
    assert shot.stat().st_size > 20_000
    assert distinct_png_bytes(shot) > 100
    assert app.extensions["closedloop.runs"].wait_idle(30)
    with app.extensions["closedloop"].sessions() as s:
        assert s.scalar(select(func.count()).where(SyncRun.trigger == "dashboard")) == 1


def test_seeded_world_is_realistic(served):
    """The seeded demo world has journeys, won deals with attribution, and spend to report on."""
    _, app = served
    with app.extensions["closedloop"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(Touchpoint)) > 500
        won = s.scalar(select(func.count()).where(Deal.is_won.is_(True)))
        assert won > 10
        assert s.scalar(select(func.count()).select_from(SpendDaily)) > 100
        assert s.scalar(select(func.min(Deal.close_time))) > utcnow() - timedelta(days=31)
