"""The doctor asks the registry: a platform without checks is a note, a crash is a ✗ row."""

from __future__ import annotations

import platforms


def test_platform_without_declared_checks_is_a_note(meta, doctor, monkeypatch):
    """No ``doctor`` in the registry: one note, nothing called, the run does not fail."""
    monkeypatch.delitem(platforms.DOCTORS, "meta")
    result = doctor({"meta": meta.platform_config()})
    assert result.names("meta") == ["live checks"]
    assert result["meta", "live checks"].status == "note"
    assert meta.requests == 0 and result.failed() == []


def test_a_crashing_platform_doctor_becomes_a_failed_row(meta, doctor, monkeypatch):
    """An exception inside a platform's doctor is reported, and the other checks still run."""
    monkeypatch.setitem(platforms.DOCTORS, "meta", "json:loads")  # wrong signature: TypeError
    result = doctor({"meta": meta.platform_config()})
    assert result["meta", "live checks"].status == "fail"
    assert result["store", "migrations current"].status == "ok"


def test_every_registered_platform_declares_its_checks():
    """The four shipped platforms each point at a loadable doctor."""
    for name in ("hubspot", "google_ads", "ga4", "meta"):
        assert callable(platforms.load(platforms.DOCTORS[name]))
