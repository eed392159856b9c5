"""How long the source may go without a good pull: periods x ``schedule.stale_after_runs``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connector.config.models import ScheduleSettings
from connector.health import PlatformHealth, source_stale, stale_after

WEDNESDAY = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_interval_times_runs():
    """Every 20 minutes, 3 runs: 60 minutes."""
    schedule = ScheduleSettings(interval_minutes=20, stale_after_runs=3)
    assert stale_after(schedule, WEDNESDAY) == timedelta(minutes=60)


def test_a_cron_is_judged_by_its_longest_gap():
    """Weekdays at 09:00: the gap Friday 09:00 -> Monday 09:00 is 72 h; x2 runs = 144 h."""
    schedule = ScheduleSettings(cron="0 9 * * 1-5", stale_after_runs=2)
    assert stale_after(schedule, WEDNESDAY) == timedelta(hours=144)


def test_no_schedule_no_limit():
    """Syncs only on demand: staleness cannot be judged, so it is not checked."""
    assert stale_after(ScheduleSettings(enabled=False), WEDNESDAY) is None


def test_staleness_counts_from_the_last_success_or_the_first_failure():
    """Never tried: not stale; failing since 61 min with a 60-min limit: stale."""
    limit = timedelta(minutes=60)
    assert not source_stale(None, limit, WEDNESDAY)
    assert not source_stale(PlatformHealth("hubspot"), limit, WEDNESDAY)
    failing = PlatformHealth(
        "hubspot", last_error="401", failing_since=WEDNESDAY - timedelta(minutes=61)
    )
    assert source_stale(failing, limit, WEDNESDAY)
    ok = PlatformHealth("hubspot", last_success_at=WEDNESDAY - timedelta(minutes=59))
    assert not source_stale(ok, limit, WEDNESDAY)
