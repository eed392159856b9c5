"""``closedloop demo``: the whole loop against the sandbox, in one process, in seconds.

1. Start the emulators of HubSpot, Google Ads, GA4 and Meta on free local ports.
2. Write a real config pointing at them (kept in a temp folder, reusable with ``-c``).
3. Serve closedloop over HTTP and drive the generated visitors' page views and form fills
   through its real ``/collect`` and ``/identify`` endpoints.
4. Write leads back to HubSpot, create deals there, run a sync (pull, match, attribute,
   plan, deliver), then re-price and reopen some deals and sync again.
5. Conversions a platform took for processing wait for its verdict (status ``confirming``,
   Google's Data Manager: first status 30 minutes after the ingest); the demo travels to when
   those checks are due and asks, so the rows end accepted or rejected as the platform says.
6. Print what each platform accepted, skipped or rejected (with reasons) and the source report.
"""

from __future__ import annotations

import contextlib
import importlib
import secrets
import socket
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import requests
import yaml
from werkzeug.serving import make_server

import platforms
from connector.config import parse_config
from connector.demo.generator import STAGES, World, generate
from connector.runs import RunService, get_run
from connector.runtime import Runtime
from connector.tracking.routes import WORKER

Echo = Callable[[str], None]


@dataclass
class DemoResult:
    """What the demo did, for the printout and for tests."""

    workdir: Path
    config_path: Path
    base_url: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)
    hits: int = 0
    leads: int = 0
    deals: int = 0


@contextlib.contextmanager
def sandboxes(now: Callable[[], datetime] | None = None) -> Iterator[dict[str, Any]]:
    """Start every platform emulator; stop them all on exit."""
    started: dict[str, Any] = {}
    try:
        for name, path in platforms.SANDBOXES.items():
            options = getattr(demo_hooks(name), "OPTIONS", {})
            started[name] = platforms.load(path)(**options).start()
        yield started
    finally:
        for box in started.values():
            box.stop()


def demo_config(workdir: Path, boxes: dict[str, Any], port: int) -> dict[str, Any]:
    """A config for closedloop pointing every platform at its emulator."""
    platform_sections = {
        name: {**box.platform_config(), **getattr(demo_hooks(name), "CONFIG", {})}
        for name, box in boxes.items()
    }
    return {
        "database": {"url": f"sqlite:///{workdir / 'closedloop.db'}"},
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "trigger_token": secrets.token_urlsafe(16),
            "allowed_origins": ["https://www.acme-analytics.example"],
            "rate_limit_per_minute": 1_000_000,
        },
        "schedule": {"enabled": False},
        # The demo replays weeks of history, so it lets the site's clock date the hits.
        "tracking": {"accept_client_time_hours": 24 * 130},
        "dashboard": {"token": secrets.token_urlsafe(12)},
        "reports": {"fx_rates": {"GBP": "1.27", "EUR": "1.08"}},
        "currency": "USD",
        "platforms": platform_sections,
    }


def run_demo(
    visitors: int = 300,
    seed: int = 7,
    echo: Echo = print,
    keep_running: bool = False,
    on_finish: Callable[[dict[str, Any], Runtime, World], None] | None = None,
    reverse_replay: bool = False,
    google_utms: bool = True,
    meta_url_ids: bool = False,
) -> DemoResult:
    """Run the full loop and print its results.

    ``on_finish`` sees the live emulators, runtime and world before they shut down (tests use
    it to check what each platform kept). ``reverse_replay`` sends the visitors and leads in
    the reverse of the generated order: the same seed must still print the same figures,
    because what closedloop concludes may not depend on the order requests arrive in.
    ``google_utms=False``: Google clicks land with only their click ID (auto-tagging), so
    campaigns and keywords come from Google's click_view. ``meta_url_ids=True``: Meta clicks
    carry their campaign/ad set/ad IDs, so they join Meta's spend by ID.
    """
    world = generate(visitors, seed, google_utms=google_utms, meta_url_ids=meta_url_ids)
    workdir = Path(tempfile.mkdtemp(prefix="closedloop-demo-"))
    port = _free_port()
    with sandboxes() as boxes:
        _seed_platforms(boxes, world)
        raw = demo_config(workdir, boxes, port)
        config_path = workdir / "closedloop.yaml"
        config_path.write_text(yaml.safe_dump(raw, sort_keys=False))
        settings = parse_config(raw, env={})
        runtime = Runtime.from_settings(settings)
        crm = boxes[runtime.profile.crm]  # the deals and contacts live in the profile's CRM
        from connector.app import create_app

        app = create_app(runtime=runtime)
        # The replay squeezes weeks into seconds: the write-back runs once it is complete, not
        # at whatever moment of the replay a background pass happens to start (see _writeback).
        app.extensions[WORKER].autostart = False
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        result = DemoResult(workdir, config_path, f"http://127.0.0.1:{port}")
        try:
            _drive(result, world, raw, echo, reverse=reverse_replay)
            _writeback(app, runtime, echo)
            deal_ids = _seed_deals(crm, world, echo)
            _qualify_contacts(crm, world, echo)
            result.deals = len(deal_ids)
            service = RunService(runtime)
            result.runs.append(_sync(service, runtime, "first sync", echo))
            changed = _change_deals(crm, world, deal_ids)
            echo(
                f"→ changed {changed['repriced']} deal amounts and reopened "
                f"{changed['reopened']} deals in HubSpot"
            )
            result.runs.append(_sync(service, runtime, "second sync", echo))
            _confirm(runtime, echo)
            _backfill_spend(runtime, world, echo)
            result.accepted = _platform_counts(boxes)
            _print_platforms(boxes, result, echo)
            _print_not_sent(runtime, echo)
            _print_report(runtime, echo)
            _print_models(runtime, echo)
            if on_finish is not None:
                on_finish(boxes, runtime, world)
            if keep_running:
                _wait(result, raw, echo)
        finally:
            server.shutdown()
            app.extensions["closedloop.runs"].wait_idle(30)
            runtime.close()
    return result


# -- steps -------------------------------------------------------------------------------------
def demo_hooks(name: str) -> ModuleType | None:
    """The platform's ``sandbox/demo.py`` (``OPTIONS``, ``CONFIG``, ``seed``), if it has one."""
    module = platforms.SANDBOXES[name].partition(":")[0] + ".demo"
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise


def _seed_platforms(boxes: dict[str, Any], world: World) -> None:
    """Each platform's demo hook seeds what it should already know (clicks, spend)."""
    for name, box in boxes.items():
        seed = getattr(demo_hooks(name), "seed", None)
        if seed is not None:
            seed(box, world)


def _drive(
    result: DemoResult, world: World, raw: dict[str, Any], echo: Echo, *, reverse: bool = False
) -> None:
    """Replay the page views (in order per visitor, visitors in parallel), then the leads."""
    started = time.monotonic()
    headers = {"Origin": "https://www.acme-analytics.example", "User-Agent": "closedloop-demo"}
    call_headers = {**headers, "Authorization": f"Bearer {raw['server']['trigger_token']}"}
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        return local.http

    def replay(visitor: Any) -> int:
        for page_view in visitor.page_views:
            body = {
                "visitor_id": visitor.id,
                "url": page_view.url,
                "referrer": page_view.referrer,
                "title": page_view.title,
                "ts": int(page_view.ts.timestamp() * 1000),
                "ga_client_id": page_view.ga_client_id,
                "ga_session_id": page_view.ga_session_id,
                "fbp": page_view.fbp,
            }
            if page_view.fbc:
                body["fbc"] = page_view.fbc
            _post(session(), f"{result.base_url}/collect", body, headers)
        return len(visitor.page_views)

    def convert(lead: Any) -> None:
        for visitor_id in lead.visitor_ids:
            body = {
                "kind": lead.kind,
                "visitor_id": visitor_id,
                "email": lead.email_typed,
                "phone": lead.phone,
                "ts": int(lead.ts.timestamp() * 1000),
            }
            chosen = call_headers if lead.kind == "call" else headers
            _post(session(), f"{result.base_url}/identify", body, chosen)

    visitors, leads = list(world.visitors), list(world.leads)
    if reverse:
        visitors.reverse()
        leads.reverse()
    with ThreadPoolExecutor(max_workers=6) as pool:
        result.hits = sum(pool.map(replay, visitors))
    for lead in leads:  # one at a time: the order they arrive in is the one given
        convert(lead)
    result.leads = len(world.leads)
    echo(
        f"→ tracked {result.hits} page views of {len(world.visitors)} visitors and "
        f"{result.leads} leads through /collect and /identify "
        f"({time.monotonic() - started:.1f}s)"
    )


def _post(http: requests.Session, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
    response = http.post(url, json=body, headers=headers, timeout=30)
    if response.status_code >= 300:
        raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")


def _writeback(app: Any, runtime: Runtime, echo: Echo) -> None:
    """Write every lead back once the replay is complete, then let the app's thread take over.

    Written during the replay, a contact would get the journey as it stood at whichever moment
    a pass started (a shared device not yet claimed by its later user, say), and the same seed
    would give different contacts, matches and reports from run to run.
    """
    from sqlalchemy import func, select

    from connector.storage.models import Lead
    from connector.tracking.worker import drain

    started = time.monotonic()
    drain(runtime, _crm(runtime))
    app.extensions[WORKER].autostart = True  # leads made while --keep-running
    with runtime.sessions() as session:
        statuses = dict(
            session.execute(select(Lead.crm_status, func.count()).group_by(Lead.crm_status)).all()
        )
    echo(
        f"→ wrote first/last touch onto the HubSpot contacts of {statuses.get('done', 0)} leads "
        f"({time.monotonic() - started:.1f}s)"
    )


def _crm(runtime: Runtime) -> Any:
    from connector.tracking.worker import crm_source

    return crm_source(runtime)


def _seed_deals(hubspot: Any, world: World, echo: Echo) -> dict[str, str]:
    by_email = {
        (props.get("email") or "").lower(): contact_id
        for contact_id, props in hubspot.contacts.items()
    }
    for email, first, last in world.untracked_contacts:
        by_email[email] = hubspot.add_contact(
            {"email": email, "firstname": first, "lastname": last}
        )
    stage_ids = {s[0] for s in STAGES}
    deal_ids: dict[str, str] = {}
    for deal in world.deals:
        contacts = [by_email[e] for e in deal.contact_emails if e in by_email]
        final_stage, close = deal.stages[-1]
        assert final_stage in stage_ids
        deal_ids[deal.name] = hubspot.add_deal(
            {
                "dealname": deal.name,
                "amount": str(deal.amount),
                "deal_currency_code": deal.currency,
                "dealstage": final_stage,
                "pipeline": "default",
                "closedate": close.isoformat().replace("+00:00", "Z"),
                "createdate": deal.created.isoformat().replace("+00:00", "Z"),
            },
            contacts,
        )
    won = sum(1 for d in world.deals if d.won)
    echo(f"→ created {len(deal_ids)} deals in HubSpot ({won} closed-won)")
    return deal_ids


def _qualify_contacts(hubspot: Any, world: World, echo: Echo) -> None:
    """Move leads through HubSpot's lifecycle as a sales team would: MQL, then SQL.

    Two in three leads become marketing-qualified shortly after converting; every lead with a
    deal becomes sales-qualified when the deal is created. The CRM's own date-entered
    properties carry those times, which the lifecycle step pulls for the MQL/SQL columns.
    """
    by_email = {
        (props.get("email") or "").lower(): contact_id
        for contact_id, props in hubspot.contacts.items()
    }
    deal_created: dict[str, datetime] = {}
    for deal in world.deals:
        for email in deal.contact_emails:
            deal_created.setdefault(email, deal.created)
    mqls = sqls = 0
    for index, lead in enumerate(world.leads):
        contact_id = by_email.get(lead.crm_email)
        sql_at = deal_created.get(lead.crm_email)
        if contact_id is None or (sql_at is None and index % 3 == 2):
            continue
        mql_at = lead.ts + timedelta(minutes=20)
        hubspot.update_contact(
            contact_id,
            lifecyclestage="marketingqualifiedlead",
            hs_lifecyclestage_marketingqualifiedlead_date=_hubspot_time(mql_at),
        )
        mqls += 1
        if sql_at is not None:
            hubspot.update_contact(
                contact_id,
                lifecyclestage="salesqualifiedlead",
                hs_lifecyclestage_salesqualifiedlead_date=_hubspot_time(max(sql_at, mql_at)),
            )
            sqls += 1
    echo(f"→ qualified {mqls} contacts as MQLs and {sqls} as SQLs in HubSpot")


def _hubspot_time(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _change_deals(hubspot: Any, world: World, deal_ids: dict[str, str]) -> dict[str, int]:
    repriced = reopened = 0
    for deal in world.deals:
        deal_id = deal_ids.get(deal.name)
        if deal_id is None:
            continue
        if deal.reprice_to is not None:
            hubspot.update_deal(deal_id, amount=str(deal.reprice_to))
            repriced += 1
        elif deal.reopen:
            hubspot.update_deal(deal_id, dealstage="contractsent")
            reopened += 1
    return {"repriced": repriced, "reopened": reopened}


def _sync(service: RunService, runtime: Runtime, label: str, echo: Echo) -> dict[str, Any]:
    started = time.monotonic()
    run_id, status = service.run_now("demo")
    run = get_run(runtime, run_id)
    assert run is not None
    counts = ", ".join(f"{k}={v}" for k, v in (run.counts or {}).items())
    echo(f"→ {label}: run {run_id} {status} in {time.monotonic() - started:.1f}s ({counts})")
    if run.error:
        echo(f"  error: {run.error}")
    return {"id": run_id, "status": status, "counts": run.counts, "summary": run.summary}


def _confirm(runtime: Runtime, echo: Echo) -> None:
    """Show the rows awaiting a verdict, then travel to when their checks are due and ask.

    The platforms' own schedules say when (``Destination.confirmation``); the demo cannot wait
    30 minutes, so the one pass runs with its clock set to the latest check due.
    """
    from sqlalchemy import func, select

    from connector.outbox import deliver_due
    from connector.outbox.summary import CONFIRMING
    from connector.storage.models import Conversion, utcnow

    with runtime.sessions() as session:
        waiting = session.execute(
            select(Conversion.destination, func.count(), func.max(Conversion.next_attempt_at))
            .where(Conversion.status == CONFIRMING)
            .group_by(Conversion.destination)
            .order_by(Conversion.destination)
        ).all()
    if not waiting:
        return
    now = utcnow()
    due = max(at or now for _, _, at in waiting)
    echo(
        "→ awaiting the platforms' verdicts: "
        + ", ".join(f"{name} {count} confirming" for name, count, _ in waiting)
        + f" (checks due in {max(0, round((due - now).total_seconds() / 60))} min)"
    )
    summary = deliver_due(runtime, now=due, only=[n for n, _, _ in waiting], confirm_only=True)
    done = ", ".join(
        f"{name} "
        + (" ".join(f"{k}={v}" for k, v in p.counts.items()) or "no verdict yet")
        + f" ({p.lookups} status look-ups)"
        for name, p in summary.platforms.items()
    )
    echo(f"→ travelled to {due:%H:%M} UTC and asked: {done}")


def _backfill_spend(runtime: Runtime, world: World, echo: Echo) -> None:
    from connector.spend import pull_spend

    first = min(row.day for row in world.spend)
    results = pull_spend(runtime, first, world.now.date())
    pulled = ", ".join(f"{name} {r.get('rows', r)}" for name, r in results.items())
    echo(f"→ pulled spend and sessions since {first}: {pulled}")


def _platform_counts(boxes: dict[str, Any]) -> dict[str, int]:
    return {
        name: len(box.accepted)
        for name, box in boxes.items()
        if name in platforms.DESTINATIONS and hasattr(box, "accepted")
    }


def _print_platforms(boxes: dict[str, Any], result: DemoResult, echo: Echo) -> None:
    from connector.storage.models import Conversion

    echo("")
    echo("What each platform received:")
    runtime_db = Runtime.from_settings(
        parse_config(yaml.safe_load(result.config_path.read_text()), env={}), upgrade=False
    )
    with runtime_db.sessions() as session:
        rows = session.query(
            Conversion.destination, Conversion.kind, Conversion.status, Conversion.reason_code
        ).all()
    runtime_db.close()
    w = max(map(len, platforms.DESTINATIONS), default=10)
    for name in platforms.DESTINATIONS:
        statuses = Counter((kind, status) for dest, kind, status, _ in rows if dest == name)
        reasons = Counter(code for dest, _, status, code in rows if dest == name and code)
        summary = ", ".join(
            f"{kind} {status}: {n}" for (kind, status), n in sorted(statuses.items())
        )
        kept = result.accepted.get(name, 0)
        echo(f"  {name:<{w}} kept by the platform: {kept:>4}   outbox: {summary or 'nothing'}")
        for code, count in reasons.most_common(4):
            echo(f"  {'':<{w}}   {count:>4} x {code}")


def _print_report(runtime: Runtime, echo: Echo) -> None:
    from connector.cli.report import render_table
    from connector.reports import default_range, source_report, source_report_options
    from connector.reports.kpis import display
    from connector.storage.models import utcnow

    settings = runtime.settings
    with runtime.sessions() as session:
        data = source_report(
            session,
            default_range(utcnow().date(), 60),
            model=settings.attribution.model,
            **source_report_options(settings),
        )
    table = [
        {
            "channel": row["group"],
            "visits": display(row["visits"]),
            "leads": display(row["leads"]),
            "MQLs": display(row["mqls"]),
            "SQLs": display(row["sqls"]),
            "won": display(row["won_deals"]),
            f"revenue {data['currency']}": display(row["revenue"], "money"),
            "spend": display(row["spend"], "money"),
            "ROI": display(row["kpis"]["roi"], "percent"),
            "lead value": display(row["kpis"]["lead_value"], "money"),
        }
        for row in [*data["rows"], data["totals"]]
    ]
    echo("")
    echo(f"Source report, last 60 days, {data['model'].replace('_', ' ')} attribution:")
    echo(render_table(table))


def _print_models(runtime: Runtime, echo: Echo) -> None:
    """Last click beside the data-driven models, per channel, with what they learned from."""
    from connector.cli.report import render_table
    from connector.reports import default_range, model_comparison
    from connector.reports.data_driven import learning_options
    from connector.reports.kpis import display
    from connector.storage.models import utcnow

    settings = runtime.settings
    with runtime.sessions() as session:
        data = model_comparison(
            session,
            default_range(utcnow().date(), 60),
            currency=settings.currency,
            fx_rates=settings.reports.fx_rates,
            **learning_options(settings),
        )
    stability = data["data_driven"]["stability"]
    table = [
        {
            "channel": row["group"],
            "last click": display(row["revenue"]["last_click"], "money"),
            "markov": display(row["revenue"]["markov"], "money"),
            "shapley": display(row["revenue"]["shapley"], "money"),
            "markov vs last click": display(row["moved_from_last_click"]["markov"], "money"),
            "markov share 5-95 %": (
                f"{stability[row['group']]['low']:.0%}-{stability[row['group']]['high']:.0%}"
                + (" (wide)" if stability[row["group"]]["wide"] else "")
                if row["group"] in stability
                else "—"
            ),
        }
        for row in data["rows"]
    ]
    learned = data["data_driven"]
    echo("")
    echo(
        f"Attribution models, last 60 days ({data['currency']}; data-driven models learned from "
        f"{learned['journeys']} journeys, {learned['converting_journeys']} converting):"
    )
    echo(render_table(table))


def _print_not_sent(runtime: Runtime, echo: Echo) -> None:
    from connector.demo.not_sent import platform_account
    from connector.reports import default_range, delivery_report
    from connector.storage.models import utcnow

    settings = runtime.settings
    with runtime.sessions() as session:
        report = delivery_report(
            session,
            default_range(utcnow().date(), 60),
            currency=settings.currency,
            fx_rates=settings.reports.fx_rates,
        )
    for line in platform_account(report, tuple(platforms.DESTINATIONS)):
        echo(line)


def _wait(result: DemoResult, raw: dict[str, Any], echo: Echo) -> None:
    echo("")
    echo(f"closedloop is running at {result.base_url} (Ctrl-C to stop)")
    echo(f"  dashboard: {result.base_url}/dashboard/  (token: {raw['dashboard']['token']})")
    echo(f"  config:    {result.config_path}")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
