"""How old a conversion each platform still accepts, and why (see shared/platform-limits.md).

The same limits apply to every run; a backfill merely meets them more often. Planning a row a
platform will refuse only fills the outbox with dead letters, so such rows are not planned and
the reason is reported instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from connector.config import Settings
from platforms.base import CONVERSION

GA4_BACKDATE = timedelta(hours=72)
META_WINDOW = timedelta(days=7)
META_STORE_WINDOW = timedelta(days=62)
#: Destinations that can change or withdraw a conversion after it was sent.
ADJUSTABLE = frozenset({"google_ads"})


def too_old(
    destination: str,
    kind: str,
    *,
    event_time: datetime,
    click_time: datetime | None,
    now: datetime,
    settings: Settings,
) -> str | None:
    """Why ``destination`` would refuse this row because of its age, or None if it fits."""
    if destination == "google_ads":
        google = settings.platforms.google_ads
        if kind != CONVERSION:
            if now - event_time > timedelta(days=google.adjustment_window_days):
                return (
                    f"Google Ads adjusts conversions up to {google.adjustment_window_days} days "
                    "old (CONVERSION_EXPIRED)"
                )
            return None
        reference = click_time or event_time
        if now - reference > timedelta(days=google.click_window_days):
            what = "the click" if click_time else "the conversion"
            return (
                f"{what} is older than the Google Ads click window of "
                f"{google.click_window_days} days (EXPIRED_EVENT)"
            )
        return None
    if destination == "meta":
        store = settings.platforms.meta.action_source == "physical_store"
        window = META_STORE_WINDOW if store else META_WINDOW
        if now - event_time > window:
            return f"Meta rejects a whole request if any event is older than {window.days} days"
        return None
    late = now - event_time > GA4_BACKDATE
    if destination == "ga4" and late and settings.platforms.ga4.late_events == "skip":
        return "older than GA4's 72-hour backdating limit and platforms.ga4.late_events is skip"
    return None


def explain(settings: Settings, since: datetime, now: datetime) -> dict[str, str]:
    """Per enabled destination, in words, what a replay from ``since`` can still deliver."""
    out: dict[str, str] = {}
    for name in settings.platforms.enabled():
        if name == "google_ads":
            google = settings.platforms.google_ads
            cutoff = now - timedelta(days=google.click_window_days)
            out[name] = (
                f"conversions whose click is after {cutoff:%Y-%m-%d} (click window "
                f"{google.click_window_days} days); restatements and retractions of conversions "
                f"after {now - timedelta(days=google.adjustment_window_days):%Y-%m-%d} "
                f"({google.adjustment_window_days} days)"
            )
        elif name == "meta":
            store = settings.platforms.meta.action_source == "physical_store"
            window = META_STORE_WINDOW if store else META_WINDOW
            out[name] = (
                f"deals closed after {now - window:%Y-%m-%d} only: Meta fails a whole request "
                f"if any event is older than {window.days} days"
            )
        elif name == "ga4" and settings.platforms.ga4.late_events == "skip":
            out[name] = (
                f"deals closed after {now - GA4_BACKDATE:%Y-%m-%d %H:%M} UTC only: GA4 "
                "backdates events at most 72 hours and platforms.ga4.late_events is skip"
            )
        elif name == "ga4":
            out[name] = (
                f"all deals; those closed before {now - GA4_BACKDATE:%Y-%m-%d %H:%M} UTC are "
                "older than GA4's 72-hour backdating limit, so they are sent without a "
                "timestamp and count on the day they are uploaded"
            )
    if since > now:
        out = {k: "nothing: --since is in the future" for k in out}
    return out
