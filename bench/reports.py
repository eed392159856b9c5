"""Benchmark the report queries over 1M touchpoints and 100k deals on PostgreSQL.

Seeds a dedicated schema with SQL set operations (generate_series; seconds, no Python loop):
visitors with three touches each over six months, leads, 100k deals (45 % won, 10 % without a
journey, some repeat customers) with stage history and attribution rows (every model's share),
outbox rows for three platforms, and daily spend per campaign and keyword. Then times every
report over the whole six months and drops the schema. The funnel (both modes) and velocity
reports also print their ratio to the same run's source report with MQLs/SQLs.

    .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --touchpoints 100000 --deals 10000   # quick
    .venv/bin/python bench/reports.py --keep            # then --schema NAME: re-time, no seed

Target: every report < 2 s on PostgreSQL; not met yet. Full size (1M / 100k), 2-core VM with
seven other busy jobs (load 4-6: CPU-contended, runs vary up to ~1.7x), one run each on the same
seeded schema (``--keep``, then ``--schema``), before -> after the changes of 2026-12-03: seed
stuck > 24 min on the first/last-touch UPDATE -> 144 s; source report 4.3-11.4 s (median 6.8) ->
2.8-9.4 s (median 4.8); model comparison 13.5-20.1 s -> 3.4-9.2 s (9.2 s is the call that learns
the fit); funnel/velocity 9.4-13.9 s -> 4.4-7.2 s; paths' bare fetch reference 1.58 s -> 1.00 s
(the load fell between the runs). Second pass (same schema; the after figures at load 5-6):
model comparison's first call 8.8 -> 5.3 s run alone (9.8 s in the loaded bench run), velocity
5.2 -> 4.0 s, period funnel 5.8 -> 5.2 s, source report with MQLs/SQLs 4.5 -> 4.1 s; still over
2 s (README, "Report speed"). Third pass (2026-12-04, quiet machine, same schema, before ->
after): the 35 source-report calls' median 2.14 -> 1.77-1.81 s, cohort funnel 2.99 -> 1.53-1.69 s,
calls at or over 2 s 30 -> 8-14 of 57; the dashboard page (timed at the end, panels side by side
against in turn) 11.0-11.1 s against 12.2-12.4 s. Where model comparison's time goes:

    .venv/bin/python bench/reports.py --keep    # prints the schema name
    .venv/bin/python -m cProfile -s cumulative bench/reports.py --schema NAME | head -60

The conversion paths are also timed against a same-run reference: the bare fetch of the rows
they read (psycopg, no ORM, no grouping), and the ratio printed, so the Python path building's
cost is visible apart from the database's.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connector.config import parse_config
from connector.reports import (
    DIMENSIONS,
    MODELS,
    ReportRange,
    delivery_report,
    model_comparison,
    opportunity_report,
    source_report,
)
from connector.reports.funnel import funnel_report
from connector.reports.paths import conversion_paths
from connector.reports.timeline import revenue_over_time
from connector.reports.velocity import velocity_report
from connector.runtime import Runtime

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
END = date(2026, 11, 1)
DAYS = 180
FX = {"GBP": Decimal("1.27"), "EUR": Decimal("1.08")}

SEED_SQL = """
CREATE TEMP TABLE bench_param AS SELECT
  CAST(:touchpoints AS bigint) AS t, (CAST(:touchpoints AS bigint) + 2) / 3 AS v,
  CAST(:deals AS bigint) AS d,
  CAST(:deals AS bigint) * 3 / 2 AS l, CAST(:start AS timestamptz) AS t0;

INSERT INTO visitors (id, first_seen_at, last_seen_at)
SELECT 'v' || g, p.t0 + ((g * 7919) % 170) * interval '1 day',
       p.t0 + ((g * 7919) % 170) * interval '1 day' + interval '3 days'
FROM bench_param p, generate_series(1, p.v) g;

-- Three touches per visitor, 36 hours apart, channels spread like a B2B site's.
INSERT INTO touchpoints (id, visitor_id, occurred_at, received_at, url, source, medium,
                         campaign, term, channel, is_new_session)
SELECT g, 'v' || vn, ts, ts, 'https://shop.example/p/' || (g % 50),
  CASE ch WHEN 'Paid Search' THEN 'google' WHEN 'Organic Search' THEN 'google'
          WHEN 'Paid Social' THEN 'facebook' WHEN 'Email' THEN 'newsletter'
          WHEN 'Referral' THEN 'g2.com' WHEN 'Organic Social' THEN 'linkedin.com' END,
  CASE ch WHEN 'Paid Search' THEN 'cpc' WHEN 'Organic Search' THEN 'organic'
          WHEN 'Paid Social' THEN 'paid_social' WHEN 'Email' THEN 'email'
          WHEN 'Referral' THEN 'referral' WHEN 'Organic Social' THEN 'social' END,
  CASE ch WHEN 'Paid Search' THEN 'Campaign ' || (g % 40)
          WHEN 'Paid Social' THEN 'Social ' || (g % 20)
          WHEN 'Email' THEN 'digest-' || (g % 12) END,
  CASE WHEN ch = 'Paid Search' THEN 'keyword ' || (g % 400) END,
  ch, pos = 0 OR g % 4 = 0
FROM (
  SELECT g, (g - 1) / 3 + 1 AS vn, (g - 1) % 3 AS pos,
    p.t0 + (((g - 1) / 3 + 1) * 7919 % 170) * interval '1 day'
         + ((g - 1) % 3) * interval '36 hours' + (g % 600) * interval '1 second' AS ts,
    (ARRAY['Paid Search','Paid Search','Paid Search','Organic Search','Organic Search',
           'Paid Social','Paid Social','Direct','Direct','Email','Referral',
           'Organic Social'])[1 + (g * 7 + ((g - 1) / 3) * 13) % 12] AS ch
  FROM bench_param p, generate_series(1, p.t) g
) x;

INSERT INTO persons (id, email_sha256, created_at, updated_at)
SELECT g, md5(g::text) || md5((-g)::text), now(), now()
FROM bench_param p, generate_series(1, p.l) g;

UPDATE visitors SET person_id = substr(id, 2)::bigint / 2
WHERE substr(id, 2)::bigint % 2 = 0
  AND substr(id, 2)::bigint / 2 <= (SELECT l FROM bench_param);

-- A lead two minutes after the visitor's third touch.
INSERT INTO leads (id, person_id, visitor_id, kind, occurred_at, crm_status, crm_attempts)
SELECT g, g, 'v' || (2 * g), CASE WHEN g % 7 = 0 THEN 'call' ELSE 'form' END,
  p.t0 + ((2 * g) * 7919 % 170) * interval '1 day' + interval '72 hours 2 minutes',
  'written', 1
FROM bench_param p, generate_series(1, p.l) g;

-- Two in three leads become MQLs an hour after the lead; one in three SQLs two days later.
INSERT INTO lifecycle_events (contact_id, stage, crm_stage, email_sha256, entered_at, updated_at)
SELECT 'c' || l.id, m.stage, m.crm_stage, pe.email_sha256, l.occurred_at + m.after, now()
FROM leads l
JOIN persons pe ON pe.id = l.person_id
CROSS JOIN (VALUES ('mql', 'marketingqualifiedlead', interval '1 hour', 3, 2),
                   ('sql', 'salesqualifiedlead', interval '2 days', 3, 1)) m(stage, crm_stage,
                                                                           after, modulo, below)
WHERE l.id % m.modulo < m.below;

INSERT INTO crm_stages (pipeline, stage, label, display_order, is_closed, is_won) VALUES
 ('default', 'appointmentscheduled', 'Appointment scheduled', 0, false, false),
 ('default', 'qualifiedtobuy', 'Qualified to buy', 1, false, false),
 ('default', 'presentationscheduled', 'Presentation scheduled', 2, false, false),
 ('default', 'decisionmakerboughtin', 'Decision maker bought-in', 3, false, false),
 ('default', 'contractsent', 'Contract sent', 4, false, false),
 ('default', 'closedwon', 'Closed won', 5, true, true),
 ('default', 'closedlost', 'Closed lost', 6, true, false);

-- Deal d belongs to lead d; 45 % won, 35 % lost, 20 % open; a fifth share a contact.
INSERT INTO deals (id, name, pipeline, stage, is_won, is_closed, amount, currency, close_time,
                   created_time, modified_time, contact_ids, match_status, first_seen_at,
                   updated_at)
SELECT 'd' || g, 'Deal ' || g, 'default',
  CASE WHEN g % 20 < 9 THEN 'closedwon' WHEN g % 20 < 16 THEN 'closedlost'
       ELSE (ARRAY['appointmentscheduled','qualifiedtobuy','presentationscheduled',
                   'contractsent'])[1 + g % 4] END,
  g % 20 < 9, g % 20 < 16, 1500 + (g * 37) % 46000,
  CASE WHEN g % 4 = 1 THEN 'GBP' WHEN g % 8 = 2 THEN 'EUR' ELSE 'USD' END,
  created + (1 + g % 30) * interval '1 day', created, created,
  json_build_array('c' || CASE WHEN g % 10 IN (5, 6) THEN g - 4 ELSE g END),
  CASE WHEN g % 10 = 3 THEN 'no_journey' ELSE 'matched' END, now(), now()
FROM (
  SELECT g, p.t0 + ((2 * g) * 7919 % 170) * interval '1 day' + interval '73 hours' AS created
  FROM bench_param p, generate_series(1, p.d) g
) x;

INSERT INTO deal_stage_events (deal_id, pipeline, stage, entered_at)
SELECT d.id, 'default', s.stage, d.created_time + s.n * interval '1 hour'
FROM deals d
CROSS JOIN LATERAL (
  SELECT n, (ARRAY['appointmentscheduled','qualifiedtobuy','presentationscheduled',
                   'decisionmakerboughtin','contractsent'])[n + 1] AS stage
  FROM generate_series(0, substr(d.id, 2)::int % 5) n
  UNION ALL SELECT 9, d.stage WHERE d.is_closed
) s;

CREATE TEMP TABLE journey AS
SELECT d.id AS deal_id, d.amount, d.currency, d.close_time, t.id AS tp_id, t.occurred_at,
       t.channel, row_number() OVER w AS k, count(*) OVER (PARTITION BY d.id) AS n,
       power(2, -extract(epoch FROM d.close_time - t.occurred_at) / 604800.0) AS decay
FROM deals d
JOIN touchpoints t ON t.visitor_id = 'v' || (2 * substr(d.id, 2)::bigint)
WHERE d.match_status = 'matched' AND t.occurred_at <= d.close_time
WINDOW w AS (PARTITION BY d.id ORDER BY t.occurred_at, t.id);

-- The temp table has no statistics until analysed: without them the planner guessed a
-- nested loop over deals x journey (>24 min at full size). One pass, one hash join.
ANALYZE journey;

UPDATE deals SET first_touch_channel = f.first_channel, first_touch_source = 'src / med',
                 last_touch_channel = f.last_channel, last_touch_source = 'src / med'
FROM (
  SELECT deal_id, max(channel) FILTER (WHERE k = 1) AS first_channel,
         max(channel) FILTER (WHERE k = n) AS last_channel
  FROM journey GROUP BY deal_id
) f WHERE f.deal_id = deals.id;

INSERT INTO attributions (deal_id, touchpoint_id, currency,
                          first_click_weight, first_click_revenue,
                          last_click_weight, last_click_revenue, linear_weight, linear_revenue,
                          time_decay_weight, time_decay_revenue,
                          position_based_weight, position_based_revenue)
SELECT deal_id, tp_id, currency,
  round(wf::numeric, 10), round(amount * wf::numeric, 2),
  round(wl::numeric, 10), round(amount * wl::numeric, 2),
  round(wn::numeric, 10), round(amount * wn::numeric, 2),
  round(wt::numeric, 10), round(amount * wt::numeric, 2),
  round(wp::numeric, 10), round(amount * wp::numeric, 2)
FROM (
  SELECT j.*, (k = 1)::int AS wf, (k = n)::int AS wl, 1.0 / n AS wn,
    decay / sum(decay) OVER (PARTITION BY deal_id) AS wt,
    CASE WHEN n = 1 THEN 1 WHEN n = 2 THEN 0.5
         WHEN k = 1 OR k = n THEN 0.4 ELSE 0.2 / (n - 2) END AS wp
  FROM journey j
) a;

INSERT INTO conversions (deal_id, destination, kind, event_name, dedup_key, value, currency,
                         event_time, identifiers, status, attempts, reason_code, reason,
                         created_at, updated_at)
SELECT d.id, dest, 'conversion', 'purchase', d.id || '-' || dest, d.amount, d.currency,
  d.close_time, '{}'::json, st,
  1, CASE st WHEN 'skipped' THEN 'NO_CLICK_ID' WHEN 'rejected' THEN 'INVALID_ARGUMENT'
             WHEN 'dead' THEN 'HTTP_503' END,
  CASE WHEN st IN ('skipped', 'rejected', 'dead') THEN 'bench reason' END, now(), now()
FROM deals d
CROSS JOIN (VALUES ('google_ads'), ('meta'), ('ga4')) p(dest)
CROSS JOIN LATERAL (SELECT CASE
    WHEN (substr(d.id, 2)::int + length(dest)) % 100 < 80 THEN 'accepted'
    WHEN (substr(d.id, 2)::int + length(dest)) % 100 < 90 THEN 'skipped'
    WHEN (substr(d.id, 2)::int + length(dest)) % 100 < 94 THEN 'rejected'
    WHEN (substr(d.id, 2)::int + length(dest)) % 100 < 97 THEN 'pending'
    ELSE 'dead' END AS st) s
WHERE d.is_won;

INSERT INTO spend_daily (platform, day, campaign_id, campaign, ad_group_id, ad_group,
                         keyword_id, keyword, source, medium, channel, currency, cost, clicks,
                         impressions)
SELECT 'google_ads', to_char(p.t0 + day * interval '1 day', 'YYYY-MM-DD'), 'c' || (kw % 40),
  'Campaign ' || (kw % 40), 'ag' || (kw % 40), 'Ad group ' || (kw % 40), 'k' || kw,
  'keyword ' || kw, 'google', 'cpc', 'Paid Search', 'USD', 5 + (kw * day) % 50,
  1 + (kw + day) % 30, 100
FROM bench_param p, generate_series(0, 179) day, generate_series(0, 399) kw;

INSERT INTO spend_daily (platform, day, campaign_id, campaign, ad_group_id, ad_group,
                         keyword_id, keyword, source, medium, channel, currency, cost, clicks,
                         impressions)
SELECT 'meta', to_char(p.t0 + day * interval '1 day', 'YYYY-MM-DD'), 'm' || c, 'Social ' || c,
  'as' || c, 'Ad set ' || c, '', NULL, 'facebook', 'paid_social', 'Paid Social', 'USD',
  20 + (c * day) % 80, 5 + (c + day) % 40, 500
FROM bench_param p, generate_series(0, 179) day, generate_series(0, 19) c;
"""


#: The rows the paths report reads, fetched bare: the same-run reference for its timing.
PATHS_DEAL_SQL = """
SELECT a.deal_id, t.channel, t.occurred_at, a.linear_weight, d.close_time, d.amount
FROM attributions a JOIN touchpoints t ON t.id = a.touchpoint_id
JOIN deals d ON d.id = a.deal_id
WHERE d.is_won AND d.close_time >= %s AND d.close_time < %s
ORDER BY a.deal_id, t.occurred_at, t.id
"""
PATHS_LEAD_SQL = """
SELECT l.id, l.occurred_at, t.channel, t.occurred_at
FROM leads l JOIN touchpoints t
  ON t.visitor_id = l.visitor_id AND t.occurred_at <= l.occurred_at AND t.is_new_session
WHERE l.occurred_at >= %s AND l.occurred_at < %s
ORDER BY l.id, t.occurred_at, t.id
"""


def seed(url: str, touchpoints: int, deals: int, start: date) -> dict[str, int]:
    """Run the seeding SQL; return row counts per table."""
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in SEED_SQL.split(";\n"):
            if statement.strip():
                conn.execute(
                    text(statement),
                    {"touchpoints": touchpoints, "deals": deals, "start": start.isoformat()}
                    if ":touchpoints" in statement
                    else {},
                )
        for table in ("touchpoints", "attributions", "deals", "conversions", "deal_stage_events"):
            conn.execute(text(f"ANALYZE {table}"))
        counts = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
            for table in (
                "visitors",
                "touchpoints",
                "leads",
                "deals",
                "deal_stage_events",
                "attributions",
                "conversions",
                "spend_daily",
                "lifecycle_events",
            )
        }
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return counts


def timed(label: str, call: Callable[[], object], results: list[tuple[str, float]]) -> None:
    started = time.perf_counter()
    call()
    elapsed = time.perf_counter() - started
    results.append((label, elapsed))
    print(f"  {label:<44} {elapsed:6.3f} s", flush=True)


def time_dashboard(url: str, rng: ReportRange) -> None:
    """The whole dashboard page for the range: panels side by side, against in turn.

    In-process (Flask's test client, no HTTP), wall clock of one GET /dashboard/ from request
    to finished HTML. The reference, in the same run on the same data, is the same page with
    ``dashboard.panel_workers: 1`` (every panel's report in turn). The data-driven fit the
    model comparison keeps for 15 minutes is dropped before each page, so both learn it.
    """
    import re

    from connector.app import create_app
    from connector.reports import data_driven

    pages = []
    for workers in (1, 4):
        settings = parse_config(
            {
                "database": {"url": url},
                "reports": {"fx_rates": FX},
                "dashboard": {"token": "t" * 32, "secret_key": "s" * 32, "panel_workers": workers},
                "server": {"trigger_token": "x" * 32},
            }
        )
        runtime = Runtime.from_settings(settings, upgrade=False)
        app = create_app(runtime=runtime)
        client = app.test_client()
        login = client.get("/dashboard/").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', login).group(1)
        client.post("/dashboard/login", data={"csrf": csrf, "username": "", "password": "t" * 32})
        data_driven._LEARNED.clear()
        began = time.perf_counter()
        response = client.get(f"/dashboard/?from={rng.start}&to={rng.end}")
        elapsed = time.perf_counter() - began
        assert response.status_code == 200, response.status_code
        pages.append(elapsed)
        print(f"  dashboard page, panel_workers={workers:<2}{'':22} {elapsed:6.3f} s", flush=True)
        runtime.close()
    print(f"  dashboard page: side by side / in turn = {pages[1] / pages[0]:.2f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=PG_DEFAULT, help="PostgreSQL URL (a schema is created)")
    parser.add_argument("--touchpoints", type=int, default=1_000_000)
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the schema for inspection")
    parser.add_argument(
        "--schema", help="time the reports on a schema kept by an earlier --keep run (no seed)"
    )
    args = parser.parse_args()
    if args.deals * 3 > args.touchpoints // 3:
        # Leads are 1.5 x deals and sit on every second visitor; each visitor has 3 touches.
        parser.error("need at least 9 touchpoints per deal")

    schema = args.schema or f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.url)
    if args.schema:
        args.keep = True  # never drop a schema this run did not create
    else:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}"
    start = END - timedelta(days=DAYS)
    try:
        settings = parse_config({"database": {"url": url}, "reports": {"fx_rates": FX}})
        runtime = Runtime.from_settings(settings)  # migrates: the real schema and indexes
        if args.schema:
            print(f"reusing seeded schema {schema}", flush=True)
        else:
            print(f"seeding schema {schema} ...", flush=True)
            began = time.perf_counter()
            counts = seed(url, args.touchpoints, args.deals, start)
            print(f"seeded in {time.perf_counter() - began:.1f} s: {counts}", flush=True)

        rng = ReportRange(start, END)
        money = {"currency": "USD", "fx_rates": FX}
        results: list[tuple[str, float]] = []
        print(f"report range {rng.start} .. {rng.end} (all the data)")
        with runtime.sessions() as s:
            for by in DIMENSIONS:
                for model in MODELS:
                    timed(
                        f"source report by={by} model={model}",
                        lambda by=by, model=model: source_report(
                            s, rng, by=by, model=model, **money
                        ),
                        results,
                    )
            for touch in ("first", "last"):
                timed(
                    f"opportunity report touch={touch}",
                    lambda touch=touch: opportunity_report(s, rng, touch=touch),
                    results,
                )
            timed("delivery report", lambda: delivery_report(s, rng, **money), results)
            for by in DIMENSIONS:
                timed(
                    f"model comparison by={by}",
                    lambda by=by: model_comparison(s, rng, by=by, **money),
                    results,
                )
            timed(
                "revenue over time (dashboard chart)",
                lambda: revenue_over_time(s, rng, model="last_click", **money),
                results,
            )
            timed(
                "source report ignore_direct=false",
                lambda: source_report(s, rng, model="last_click", ignore_direct=False, **money),
                results,
            )
            timed(
                "source report with MQLs/SQLs",
                lambda: source_report(s, rng, model="last_click", lifecycle_mapped=True, **money),
                results,
            )
            # Funnel and velocity, against the same run's source report with MQLs/SQLs (the
            # period funnel is that report plus a distinct-visitor count).
            reference = results[-1][1]
            lifecycle_runs: list[tuple[str, float]] = []
            for by in ("channel", "keyword"):
                for mode in ("period", "cohort"):
                    timed(
                        f"funnel by={by} mode={mode}",
                        lambda by=by, mode=mode: funnel_report(
                            s, rng, by=by, model="last_click", mode=mode, **money
                        ),
                        lifecycle_runs,
                    )
                timed(
                    f"velocity by={by}",
                    lambda by=by: velocity_report(s, rng, by=by, model="last_click"),
                    lifecycle_runs,
                )
            for label, elapsed in lifecycle_runs:
                print(f"  {label:<44} {elapsed / reference:6.2f} x source report with MQLs/SQLs")
            results.extend(lifecycle_runs)
            for target in ("deal", "lead"):
                for channel in (None, "Email"):
                    timed(
                        f"conversion paths target={target} channel={channel}",
                        lambda target=target, channel=channel: conversion_paths(
                            s, rng, target=target, model="linear", channel=channel, **money
                        ),
                        results,
                    )
            bare = {"deal": PATHS_DEAL_SQL, "lead": PATHS_LEAD_SQL}
            for target, sql in bare.items():
                label = f"conversion paths target={target} channel=None"
                report_time = next(t for name, t in results if name == label)
                began = time.perf_counter()
                s.connection().exec_driver_sql(sql, (rng.since, rng.until)).fetchall()
                fetch = time.perf_counter() - began
                print(
                    f"  paths {target}: bare row fetch {fetch:.3f} s (reference), "
                    f"report {report_time:.3f} s, ratio {report_time / fetch:.2f}",
                    flush=True,
                )
            last30 = ReportRange(END - timedelta(days=29), END)
            timed(
                "source report, last 30 days",
                lambda: source_report(s, last30, model="last_click", **money),
                results,
            )
        runtime.close()
        time_dashboard(url, rng)
        slowest = max(results, key=lambda r: r[1])
        print(f"slowest: {slowest[0]} {slowest[1]:.3f} s (target < 2 s)")
        return 0 if slowest[1] < 2 else 1
    finally:
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
