"""Pull the platforms' spend and sessions into the store, for the reports.

Each run re-pulls the last ``reports.spend_lookback_days`` days, because platforms restate
recent days. A pull replaces that platform's rows for the pulled days in one transaction, so
re-pulls are idempotent and a failed pull leaves the previous figures in place. A source that
declares ``click_kinds`` also resolves the stored clicks of those kinds to campaign/keyword
(``connector/clicks.py``), and one that declares ``url_id_params`` resolves the touches whose
landing URL carries its ad IDs (``connector/ad_ids.py``), so revenue and spend meet on the same
report row.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete

import platforms
from connector.ad_ids import resolve_url_ids
from connector.clicks import refresh_names, resolve_clicks
from connector.runs import RunContext
from connector.runtime import Runtime
from connector.storage.models import SessionsDaily, SpendDaily, utcnow
from platforms.reporting import SessionsRow, SpendRow, SpendSource

log = logging.getLogger(__name__)


def pull_spend(runtime: Runtime, start: date, end: date) -> dict[str, Any]:
    """Pull every enabled platform's spend/sessions for [start, end]; per-platform counts."""
    settings = runtime.settings
    results: dict[str, Any] = {}
    for name, path in platforms.SPEND_SOURCES.items():
        platform_settings = getattr(settings.platforms, name)
        if not platform_settings.enabled:
            continue
        source = platforms.load(path)
        if (reason := _unready(source, platform_settings)) is not None:
            if reason:
                results[name] = {"skipped": reason}
            continue
        puller = source(platform_settings)
        try:
            rows = list(puller.pull(start, end))
        except Exception as exc:  # one platform failing must not stop the others or the run
            log.warning("spend pull from %s failed: %s", name, exc)
            results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        results[name] = {"rows": _store(runtime, source, rows, start, end)}
        if getattr(source, "url_id_params", ()):
            results[name]["url_ids"] = resolve_url_ids(runtime, source, start, end)
        if getattr(source, "click_kinds", ()):
            try:
                results[name]["clicks"] = resolve_clicks(runtime, puller)
            except Exception as exc:  # spend is stored; resolution is retried next run
                log.warning("click resolution for %s failed: %s", name, exc)
                results[name]["clicks"] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


def _unready(source: type[SpendSource], settings: Any) -> str | None:
    """Why ``source`` cannot pull (see ``SpendSource.unready``); refuses undeclared sources."""
    if getattr(source, "rows", None) == "spend" and not getattr(source, "traffic", None):
        return f"{source.name} declares no traffic labels, so its spend cannot be filed"
    if getattr(source, "rows", None) not in ("spend", "sessions"):
        return f"{source.name} declares no row kind (spend or sessions)"
    return source.unready(settings)


def _store(runtime: Runtime, source: type[SpendSource], rows: list, start: date, end: date) -> int:
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    with runtime.sessions.begin() as session:
        if source.rows == "sessions":
            session.execute(delete(SessionsDaily).where(SessionsDaily.day.in_(days)))
            session.add_all(_sessions_row(r) for r in rows if isinstance(r, SessionsRow))
        else:
            traffic = source.traffic
            assert traffic is not None  # _unready refused it otherwise
            session.execute(
                delete(SpendDaily).where(
                    SpendDaily.platform == source.name, SpendDaily.day.in_(days)
                )
            )
            session.add_all(_spend_row(r, traffic) for r in rows if isinstance(r, SpendRow))
            if getattr(source, "click_kinds", ()) or getattr(source, "url_id_params", ()):
                refresh_names(session, source.name, rows)
    return len(rows)


def _spend_row(row: SpendRow, traffic: tuple[str, str, str]) -> SpendDaily:
    source, medium, channel = traffic
    return SpendDaily(
        platform=row.platform,
        day=row.day.isoformat(),
        campaign_id=row.campaign_id or "",
        campaign=row.campaign,
        ad_group_id=row.ad_group_id or "",
        ad_group=row.ad_group,
        keyword_id=row.keyword_id or "",
        keyword=row.keyword,
        ad_id=row.ad_id or "",
        ad=row.ad,
        source=source,
        medium=medium,
        channel=row.channel or channel,
        currency=row.currency,
        cost=row.cost,
        clicks=row.clicks,
        impressions=row.impressions,
    )


def _sessions_row(row: SessionsRow) -> SessionsDaily:
    return SessionsDaily(
        day=row.day.isoformat(),
        source=row.source,
        medium=row.medium,
        campaign=row.campaign,
        sessions=row.sessions,
        engaged_sessions=row.engaged_sessions,
        bounce_rate=row.bounce_rate,
    )


class SpendStep:
    """Pipeline step: refresh recent spend and sessions (skipped in dry runs)."""

    name = "spend"

    def __call__(self, ctx: RunContext) -> None:
        """Pull the lookback window and record per-platform results on the run."""
        if ctx.dry_run:
            return
        today = utcnow().date()
        days = ctx.runtime.settings.reports.spend_lookback_days
        results = pull_spend(ctx.runtime, today - timedelta(days=days - 1), today)
        if results:
            ctx.summary["spend"] = results
            ctx.counts["spend_rows"] = sum(r.get("rows", 0) for r in results.values())
