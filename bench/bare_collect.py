"""The reference for ``bench/collect.py``: the least a Flask + gunicorn + SQLite /collect can do.

One JSON page view per request, checked for its two required fields, inserted as one row into a
SQLite file (WAL, ``synchronous=NORMAL``: the same durability closedloop's SQLite connections
use) and committed before the 204, so "acknowledged" means "stored" here too. No validation
model, no visitor upsert, no channel, no click IDs, no rate limit: whatever closedloop does
beyond this is the price of its features, which is what the ratio measures.

Run by the benchmark as ``gunicorn -k gthread --chdir bench bare_collect:app`` with
``BARE_COLLECT_DB`` naming the database file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading

from flask import Flask, Response, request

DB_PATH = os.environ.get("BARE_COLLECT_DB", "bare.db")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS hits (id INTEGER PRIMARY KEY, visitor_id TEXT NOT NULL, "
    "url TEXT NOT NULL, referrer TEXT, title TEXT, ts INTEGER, body TEXT NOT NULL)"
)

app = Flask(__name__)
_local = threading.local()


def connection() -> sqlite3.Connection:
    """One connection per gunicorn thread (sqlite3 connections are not shared across threads)."""
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = sqlite3.connect(DB_PATH, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(SCHEMA)
        _local.conn = conn
    return conn


@app.post("/collect")
def collect() -> Response:
    try:
        hit = json.loads(request.get_data())
        visitor, url = hit["visitor_id"], hit["url"]
    except (ValueError, KeyError, TypeError):
        return Response('{"error": "invalid_body"}', status=400, mimetype="application/json")
    connection().execute(
        "INSERT INTO hits (visitor_id, url, referrer, title, ts, body) VALUES (?, ?, ?, ?, ?, ?)",
        (visitor, url, hit.get("referrer"), hit.get("title"), hit.get("ts"), json.dumps(hit)),
    )
    return Response(status=204)


@app.get("/healthz")
def healthz() -> Response:
    connection()
    return Response("ok", mimetype="text/plain")
