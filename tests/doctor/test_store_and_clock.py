"""The generic checks: migrations current, lease table writable, clock skew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from connector.doctor import run_doctor
from connector.doctor.clock import check_clock
from connector.runtime import Runtime
from connector.storage.models import utcnow
from platforms.doctor import Findings


def _store(report, name):
    return next(c for c in report.checks if c.platform == "store" and c.name == name)


def test_migrated_store_passes_and_leaves_no_probe_lease(runtime):
    """A migrated database passes both store checks; the probe lease is released."""
    report = run_doctor(runtime)
    assert _store(report, "migrations current").status == "ok"
    assert _store(report, "lease table writable").status == "ok"
    with runtime.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM leases")).scalar() == 0


def test_unmigrated_store_fails_with_db_upgrade(settings):
    """An empty database is behind the code: fix is `closedloop db upgrade`."""
    rt = Runtime.from_settings(settings, upgrade=False)
    try:
        report = run_doctor(rt)
    finally:
        rt.close()
    check = _store(report, "migrations current")
    assert check.status == "fail" and "db upgrade" in check.fix
    assert _store(report, "lease table writable").status == "fail"
    assert not report.ok


def test_refused_probe_lease_fails(runtime):
    """A lease write the database refuses shows as a failed 'lease table writable'."""
    with runtime.engine.begin() as conn:
        conn.execute(text("DROP TABLE leases"))
    check = _store(run_doctor(runtime), "lease table writable")
    assert check.status == "fail"


def test_clock_skew_under_a_minute_passes_and_over_fails():
    """Date headers 30 s off pass; 2 minutes off fail with the NTP fix."""
    now = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    near = Findings("store")
    check_clock({"meta": ["Thu, 03 Dec 2026 06:59:30 GMT"]}, near, now)
    assert near.checks[0].status == "ok" and "ahead of meta" in near.checks[0].detail
    far = Findings("store")
    check_clock(
        {"meta": ["Thu, 03 Dec 2026 06:59:30 GMT"], "ga4": ["Thu, 03 Dec 2026 07:02:00 GMT"]},
        far,
        now,
    )
    assert far.checks[0].status == "fail"
    assert "120 s behind ga4" in far.checks[0].detail and "NTP" in far.checks[0].fix


def test_no_dates_is_a_note():
    """Without any platform answering, the skew cannot be measured: a note."""
    findings = Findings("store")
    check_clock({}, findings, utcnow())
    assert findings.checks[0].status == "note"


def test_skew_is_measured_against_the_sandboxes_date_headers(meta, doctor, monkeypatch):
    """End to end: a host clock 5 minutes fast fails against Meta's real Date header."""
    import connector.doctor as doctor_module

    monkeypatch.setattr(doctor_module, "utcnow", lambda: utcnow() + timedelta(minutes=5))
    result = doctor({"meta": meta.platform_config()})
    check = result["store", "clock skew"]
    assert check.status == "fail" and "ahead of meta" in check.detail
    monkeypatch.undo()
    assert doctor({"meta": meta.platform_config()})["store", "clock skew"].status == "ok"
