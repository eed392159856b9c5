"""Freshness: a signed HubSpot webhook for a won deal, until Google Ads accepted its conversion.

Starts the HubSpot and Google Ads sandboxes in this process and ``closedloop serve`` (gunicorn
and the scheduler, as production runs it) against them. For each of ``--deals`` deals it first
prepares, outside the timing: a Google click the sandbox knows, a page view with that gclid
through ``/collect``, the form fill that ties the visitor to an email through ``/identify``,
and a HubSpot contact with that email and an open deal. Then, one deal every ``--interval``
seconds, it moves the deal to closed-won in the HubSpot sandbox and sends HubSpot's
``deal.propertyChange`` webhook for that change, signed with
the ``hubspot-api-client`` SDK's own ``Signature`` helper (v3), and times each deal from just
before its webhook request to the moment its conversion shows in the Google Ads sandbox's
accepted list (polled every 20 ms). Prints p50 / p95 / max (target p95 < 10 s), how the
webhooks were answered (``running``: a run of that deal started; ``queued``: a run was going,
the deal is taken by the next one) and any deal never accepted.

    .venv/bin/python bench/freshness.py                      # 100 deals, one per second
    .venv/bin/python bench/freshness.py --interval 0.2       # a burst: most webhooks queue
    .venv/bin/python bench/freshness.py --db postgresql      # a fresh schema on --pg-url

Wall time on this machine; what is inside each figure is closedloop's whole path: webhook
check, run start, HubSpot pull of that deal, match, attribution, planning, the delivery step
(Google token refresh and Data Manager ``IngestEvents``), all in the gunicorn worker's run thread.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from collect import PG_DEFAULT, database_url  # bench/, beside this script
from hubspot.utils.signature import Signature

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ORIGIN = "https://shop.example"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(port: int, method: str, path: str, body: str, headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body.encode(), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw.strip() else None
    finally:
        conn.close()


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"closedloop serve exited with {proc.returncode}")
        try:
            status, _ = call(port, "GET", "/healthz", "", {})
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("closedloop serve did not become healthy")


def config(workdir: Path, port: int, hubspot: Any, google: Any, db_url: str) -> Path:
    tree = {
        "database": {"url": db_url},
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "allowed_origins": [ORIGIN],
            "rate_limit_per_minute": 1_000_000,
        },
        # The scheduler's periodic sync is what takes deals queued behind a running run.
        "schedule": {"enabled": True, "interval_minutes": 1},
        # Google takes a conversion only 6 hours after its click: the page views are dated
        # 8 hours back by the site's clock, which closedloop accepts up to this age.
        "tracking": {"accept_client_time_hours": 24},
        "logging": {"level": "WARNING"},
        "platforms": {"hubspot": hubspot.platform_config(), "google_ads": google.platform_config()},
    }
    path = workdir / "closedloop.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def prepare(port: int, hubspot: Any, google: Any, i: int) -> str:
    """One tracked, identified buyer with a Google click and a closed-won deal; the deal ID."""
    now = datetime.now(UTC)
    gclid = f"Cj0KCQ-fresh-{i:05d}"
    google.add_click(gclid, now - timedelta(hours=8))
    visitor = f"fresh-visitor-{i:05d}"
    email = f"buyer{i}@example.com"
    headers = {"Content-Type": "application/json", "Origin": ORIGIN}
    hit = {
        "visitor_id": visitor,
        "url": f"{ORIGIN}/pricing?utm_source=google&utm_medium=cpc&gclid={gclid}",
        "referrer": "https://www.google.com/",
        "ts": int((now - timedelta(hours=8)).timestamp() * 1000),
        "consent": {"ad_user_data": True, "ad_personalization": True},
    }
    status, _ = call(port, "POST", "/collect", json.dumps(hit), headers)
    assert status == 204, status
    lead = {"kind": "form", "visitor_id": visitor, "email": email}
    status, answer = call(port, "POST", "/identify", json.dumps(lead), headers)
    assert status < 300, (status, answer)
    contact = hubspot.add_contact({"email": email})
    return hubspot.add_deal(
        {
            "dealname": f"Freshness {i}",
            "amount": "1250",
            "deal_currency_code": "USD",
            "closedate": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
            # Open until its webhook: no periodic sync can deliver it before the clock starts.
            "dealstage": "appointmentscheduled",
            "pipeline": "default",
        },
        [contact],
    )


def signed_webhook(secret: str, url: str, deal_id: str) -> tuple[str, dict[str, str]]:
    """HubSpot's stage-change notification and its v3 headers, from the SDK's helper."""
    body = json.dumps(
        [
            {
                "eventId": int(deal_id),
                "subscriptionId": 1,
                "portalId": 1,
                "appId": 1,
                "occurredAt": int(time.time() * 1000),
                "subscriptionType": "deal.propertyChange",
                "attemptNumber": 0,
                "objectId": int(deal_id),
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "changeSource": "CRM_UI",
            }
        ]
    )
    stamp = str(int(time.time() * 1000))
    signature = Signature.get_signature(
        secret, body, "v3", http_uri=url, http_method="POST", timestamp=stamp
    )
    return body, {
        "Content-Type": "application/json",
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": stamp,
    }


class AcceptedWatch:
    """Polls the Google Ads sandbox; the first time each deal's conversion shows up."""

    def __init__(self, google: Any, deal_ids: list[str]) -> None:
        self.google = google
        self.wanted = set(deal_ids)
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        """Until stopped: note the time of every newly accepted deal."""
        while not self.stop.is_set():
            now = time.monotonic()
            for item in self.google.accepted:
                key = str(item.get("transaction_id") or "")
                for deal in self.wanted.difference(self.seen):
                    if f"-{deal}-" in key or key.endswith(f"-{deal}"):
                        self.seen[deal] = now
            time.sleep(0.02)


def explain(url: str, google: Any) -> None:
    """Why deals are missing: the runs' outcomes, the outbox's states, the sandbox's refusals."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        runs = conn.execute(
            text("SELECT trigger, status, error, counts, summary FROM sync_runs")
        ).all()
        rows = conn.execute(
            text(
                "SELECT destination, status, reason_code, reason, next_attempt_at, attempts"
                " FROM conversions"
            )
        ).all()
    engine.dispose()
    print(f"runs: {[tuple(r) for r in runs][-10:]}")
    print(f"outbox: {[tuple(r) for r in rows]}")
    print(f"sandbox accepted {len(google.accepted)}, rejected {google.rejected[:3]}")


def drop_schema(pg_url: str, schema: str | None) -> None:
    """Drop the PostgreSQL schema this run made (None: SQLite, nothing to drop)."""
    if schema is None:
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def stop(server: subprocess.Popen | None) -> None:
    """SIGTERM to closedloop serve's session (gunicorn and the scheduler); wait for it."""
    if server is not None and server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=100)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between webhooks")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait at the end")
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("CLOSEDLOOP_BENCH_PG", PG_DEFAULT),
        help="a fresh schema is made there",
    )
    args = parser.parse_args()

    import connector.config  # noqa: F401  (first: the sandboxes' settings import it)
    import platforms

    hubspot = platforms.load(platforms.SANDBOXES["hubspot"])().start()
    google = platforms.load(platforms.SANDBOXES["google_ads"])().start()
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="closedloop-fresh-") as tmp:
            port = free_port()
            db_url, schema = database_url(args.db, Path(tmp), args.pg_url)
            path = config(Path(tmp), port, hubspot, google, db_url)
            server = subprocess.Popen(
                [sys.executable, "-m", "connector.cli", "-c", str(path), "serve"],
                cwd=ROOT,
                start_new_session=True,
            )
            wait_healthy(port, server)
            deals = [prepare(port, hubspot, google, i) for i in range(args.deals)]
            watch = AcceptedWatch(google, deals)
            watch.thread.start()
            url = f"http://127.0.0.1:{port}/webhooks/hubspot"
            sent: dict[str, float] = {}
            answers: dict[str, int] = {}
            answered: dict[str, str] = {}
            for deal in deals:
                sent[deal] = time.monotonic()
                hubspot.update_deal(deal, dealstage="closedwon")
                body, headers = signed_webhook(hubspot.client_secret, url, deal)
                status, answer = call(port, "POST", "/webhooks/hubspot", body, headers)
                label = f"{status} {answer.get('status') if isinstance(answer, dict) else answer}"
                answers[label] = answers.get(label, 0) + 1
                answered[deal] = label
                time.sleep(max(0.0, sent[deal] + args.interval - time.monotonic()))
            deadline = time.monotonic() + args.timeout
            while len(watch.seen) < len(deals) and time.monotonic() < deadline:
                time.sleep(0.1)
            watch.stop.set()
            watch.thread.join()
            if len(watch.seen) < len(deals):
                explain(db_url, google)
            stop(server)
            drop_schema(args.pg_url, schema)
    finally:
        stop(server)  # before the sandboxes, and before its database folder goes
        google.stop()
        hubspot.stop()
    delays = [watch.seen[d] - sent[d] for d in deals if d in watch.seen]
    missing = [d for d in deals if d not in watch.seen]
    print(f"webhook answers: {answers}")
    if delays:
        p95 = percentile(delays, 0.95)
        print(
            f"webhook -> accepted at the Google Ads sandbox, {len(delays)}/{len(deals)} deals, "
            f"one every {args.interval} s: p50 {statistics.median(delays):.2f} s  "
            f"p95 {p95:.2f} s  max {max(delays):.2f} s (target p95 < 10 s: "
            f"{'met' if p95 < 10 and not missing else 'NOT met'})"
        )
        for label in sorted(answers):
            some = [
                watch.seen[d] - sent[d] for d in deals if d in watch.seen and answered[d] == label
            ]
            if some:
                print(
                    f"  answered {label}: {len(some)} deals, p50 {statistics.median(some):.2f} s  "
                    f"p95 {percentile(some, 0.95):.2f} s  min {min(some):.2f} s  "
                    f"max {max(some):.2f} s"
                )
    if missing:
        print(
            f"never accepted within {args.timeout:.0f} s: {len(missing)} deal(s), "
            f"e.g. {missing[:5]}"
        )


if __name__ == "__main__":
    main()
