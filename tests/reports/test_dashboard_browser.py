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


ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def chromium(request):
    """``new_page(**options)`` in headless Chromium; every page is screenshotted on failure.

    The screenshots go to ``tests/reports/artifacts/<test>-<n>.png`` (git-ignored), so a red
    run in CI shows what the browser showed.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pages = []

        def new_page(**options):
            page = browser.new_page(**options)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            pages.append(page)
            return page

        errors: list[str] = []
        new_page.errors = errors
        try:
            yield new_page
        finally:
            report = getattr(request.node, "rep_call", None)
            if report is None or report.failed:
                ARTIFACTS.mkdir(exist_ok=True)
                for i, page in enumerate(pages):
                    shot = ARTIFACTS / f"{request.node.name}-{i}.png"
                    page.screenshot(path=str(shot), full_page=True)
            browser.close()


def log_in(page, base: str) -> None:
    """Log in through the form and wait for the sources table."""
    page.goto(f"{base}/dashboard/")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#sources")


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


ROW_CELLS = """(n) => Array.from(document.querySelectorAll('#sources tbody tr'))
  .map((r) => [r.cells[0].textContent.trim(), parseFloat(r.cells[n].getAttribute('data-v'))])"""
FOOT_CELL = "(n) => document.querySelector('#sources tfoot tr').cells[n].textContent.trim()"
NO_HSCROLL = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


def test_drill_down_with_breadcrumbs(served, chromium):
    """Rows drill channel to keyword; a level's revenue totals its parent's; crumbs go back."""
    base, _ = served
    page = chromium(viewport={"width": 1400, "height": 900})
    log_in(page, base)
    headers = page.locator("#sources thead th").all_inner_texts()
    revenue_col = headers.index("Revenue")
    parent = dict(page.evaluate(ROW_CELLS, revenue_col))["Paid Search"]
    page.click("#sources a.drill:text-is('Paid Search')")
    page.wait_for_url("**by=source_medium**")
    assert page.locator("#breadcrumbs").inner_text().startswith("All channels \u203a Paid Search")
    rows = dict(page.evaluate(ROW_CELLS, revenue_col))
    assert "google / cpc" in rows and sum(rows.values()) == pytest.approx(parent, abs=0.02)
    assert page.evaluate(FOOT_CELL, revenue_col) == f"${parent:,.2f}"
    source_mediums = len(rows)

    page.click("#sources a.drill:text-is('google / cpc')")
    page.wait_for_url("**by=campaign**")
    campaigns = dict(page.evaluate(ROW_CELLS, revenue_col))
    assert campaigns and sum(campaigns.values()) == pytest.approx(parent, abs=0.02)
    first = page.locator("#sources a.drill").first
    campaign = first.inner_text()
    first.click()
    page.wait_for_url("**by=keyword**")
    crumbs = page.locator("#breadcrumbs").inner_text()
    assert crumbs.startswith(
        f"All channels \u203a Paid Search \u203a google / cpc \u203a {campaign}"
    )
    assert page.locator("#sources a.drill").count() == 0  # keyword is the last level
    assert page.locator("#sources tbody tr").count() >= 1

    page.click("#breadcrumbs a:text-is('Paid Search')")
    page.wait_for_url("**by=source_medium**")
    assert page.locator("#sources tbody tr").count() == source_mediums
    page.click("#breadcrumbs a:text-is('All channels')")
    page.wait_for_url("**by=channel**")
    groups = page.locator("#sources tbody td:first-child").all_inner_texts()
    assert {"Paid Search", "Paid Social", "Organic Search"} <= set(groups)
    assert chromium.errors == []


def test_presets_and_comparison(served, chromium):
    """A preset sets the dates at once; editing a date makes it custom; compare adds cards."""
    base, _ = served
    page = chromium(viewport={"width": 1280, "height": 900})
    log_in(page, base)
    today = utcnow().date()
    page.select_option("#preset", "7d")
    page.wait_for_url("**preset=7d**")
    start = page.input_value("input[name=from]")
    assert (start, page.input_value("input[name=to]")) == (
        (today - timedelta(days=6)).isoformat(),
        today.isoformat(),
    )
    page.select_option("#preset", "qtd")
    page.wait_for_url("**preset=qtd**")
    quarter = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    assert page.input_value("input[name=from]") == quarter.isoformat()

    page.select_option("#preset", "30d")
    page.wait_for_url("**preset=30d**")
    page.check("#compare")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#summary .card")
    assert page.locator("#summary .card").count() == 6
    previous_end = (today - timedelta(days=30)).isoformat()
    assert f"to {previous_end}." in page.locator("#summary").inner_text()

    page.fill("input[name=from]", (today - timedelta(days=9)).isoformat())
    assert page.input_value("#preset") == "custom"
    page.click("#filters button[type=submit]")
    page.wait_for_url("**preset=custom**")
    assert page.input_value("input[name=from]") == (today - timedelta(days=9)).isoformat()
    assert chromium.errors == []


def test_csv_download_is_the_cli_file(served, chromium, tmp_path, db_url):
    """The Sources CSV link downloads the file ``report sources --format csv`` prints."""
    import yaml
    from click.testing import CliRunner

    from connector.cli import cli

    base, _ = served
    page = chromium(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    log_in(page, base)
    page.select_option("#preset", "90d")
    page.wait_for_url("**preset=90d**")
    with page.expect_download() as download:
        page.click("#csv-sources")
    saved = tmp_path / "sources.csv"
    download.value.save_as(saved)
    config = tmp_path / "closedloop.yaml"
    rates = {"GBP": "1.27", "EUR": "1.08"}
    config.write_text(yaml.safe_dump({"database": {"url": db_url}, "reports": {"fx_rates": rates}}))
    today = utcnow().date()
    span = ["--from", (today - timedelta(days=89)).isoformat(), "--to", today.isoformat()]
    result = CliRunner().invoke(
        cli, ["-c", str(config), "report", "sources", *span, "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert saved.read_bytes() == result.stdout_bytes
    assert download.value.suggested_filename.startswith("closedloop-sources-")


@pytest.mark.parametrize("width", [1280, 1440, 390])
def test_fits_without_horizontal_scroll(served, chromium, width):
    """At 1280, 1440 and a 390-px phone: no sideways scroll, charts and picker on screen."""
    base, _ = served
    phone = width == 390
    options = {"viewport": {"width": width, "height": 844 if phone else 900}}
    if phone:
        options |= {"device_scale_factor": 3, "is_mobile": True, "has_touch": True}
    page = chromium(**options)
    log_in(page, base)
    page.wait_for_function("() => typeof Chart !== 'undefined' && Chart.getChart('chart-timeline')")
    scroll, client = page.evaluate(NO_HSCROLL)
    assert scroll <= client, (width, scroll, client)
    for chart in ("chart-revenue", "chart-funnel", "chart-timeline"):
        box = page.locator(f"#{chart}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, (chart, box)
        assert box["width"] > (300 if phone else 400), (chart, box)
    picker = page.locator("#preset").bounding_box()
    assert picker["x"] >= 0 and picker["x"] + picker["width"] <= width
    wrap = page.locator("#sources").locator("xpath=..")
    assert wrap.evaluate("(e) => e.clientWidth") <= width
    assert chromium.errors == []


CHART_COLOURS = """() => {
  const revenue = Chart.getChart('chart-revenue'), funnel = Chart.getChart('chart-funnel');
  const timeline = Chart.getChart('chart-timeline');
  const velocity = Chart.getChart('chart-velocity');
  const at = revenue.data.labels.indexOf('Paid Search');
  const of = (chart) => chart.data.datasets.find((d) => d.label === 'Paid Search').backgroundColor;
  const out = {revenue: revenue.data.datasets[0].backgroundColor[at], funnel: of(funnel),
    timeline: of(timeline)};
  if (velocity) { out.velocity = of(velocity); }
  return out;
}"""
INTL_MONEY = """(codes) => codes.map((c) => new Intl.NumberFormat('en', {style: 'currency',
  currency: c}).format(-1234.5).replace(/\\u00a0/g, ' '))"""


def test_one_colour_per_channel_and_cldr_money(served, chromium):
    """Paid Search has one colour in all charts; money matches the browser's CLDR (Intl)."""
    from connector.dashboard.colours import colour
    from connector.dashboard.money import SYMBOLS, money

    base, _ = served
    page = chromium(viewport={"width": 1440, "height": 900})
    log_in(page, base)
    page.wait_for_function("() => typeof Chart !== 'undefined' && Chart.getChart('chart-timeline')")
    colours = page.evaluate(CHART_COLOURS)
    assert set(colours.values()) == {colour("Paid Search")}
    assert "velocity" in colours  # the time-in-stage chart is drawn too
    for chart in ("chart-funnel", "chart-velocity"):
        assert page.evaluate(CANVAS_INK, chart)["ink"] > 500, chart
    codes = [*SYMBOLS, "CHF", "SEK"]
    assert page.evaluate(INTL_MONEY, codes) == [money(Decimal("-1234.5"), c) for c in codes]
    column = page.locator("#sources thead th").all_inner_texts().index("Revenue") + 1
    cells = page.locator(f"#sources tbody tr td:nth-child({column})").all_inner_texts()
    assert cells and all(c.startswith("$") for c in cells)
    assert chromium.errors == []
