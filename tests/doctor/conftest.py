"""Fixtures for the doctor: running sandboxes and a runner over the real registry path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connector.doctor import DoctorReport, run_doctor
from connector.runtime import Runtime
from platforms.doctor import Check
from platforms.ga4.sandbox import GA4Sandbox
from platforms.google_ads.sandbox import GoogleAdsSandbox
from platforms.hubspot.sandbox import HubSpotSandbox
from platforms.meta.sandbox import MetaSandbox


@pytest.fixture
def google_options() -> dict[str, Any]:
    """Constructor options for the Google Ads sandbox; tests override this fixture."""
    return {}


@pytest.fixture
def google(google_options: dict[str, Any]) -> Iterator[GoogleAdsSandbox]:
    """A running Google Ads sandbox (Data Manager, Google Ads API, token endpoint)."""
    with GoogleAdsSandbox(**google_options) as running:
        yield running


@pytest.fixture
def ga4() -> Iterator[GA4Sandbox]:
    """A running GA4 sandbox."""
    with GA4Sandbox() as running:
        yield running


@pytest.fixture
def meta() -> Iterator[MetaSandbox]:
    """A running Meta Graph sandbox."""
    with MetaSandbox() as running:
        yield running


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    """A running HubSpot sandbox."""
    with HubSpotSandbox() as running:
        yield running


class Result:
    """A doctor report with lookups by platform and check name."""

    def __init__(self, report: DoctorReport) -> None:
        self.report = report

    def __getitem__(self, key: tuple[str, str]) -> Check:
        platform, name = key
        for check in self.report.checks:
            if check.platform == platform and check.name == name:
                return check
        names = [(c.platform, c.name) for c in self.report.checks]
        raise KeyError(f"no check {key}; have {names}")

    def names(self, platform: str) -> list[str]:
        """The check names of ``platform``, in order."""
        return [c.name for c in self.report.checks if c.platform == platform]

    def failed(self) -> list[tuple[str, str]]:
        """(platform, check) of every failed check."""
        return [(c.platform, c.name) for c in self.report.checks if c.status == "fail"]


@pytest.fixture
def doctor(make_settings) -> Callable[..., Result]:
    """Run the doctor over a config with the given ``platforms`` sections."""
    runtimes: list[Runtime] = []

    def run(platforms: dict[str, dict[str, Any]], **raw: Any) -> Result:
        settings = make_settings({"platforms": platforms, **raw})
        rt = Runtime.from_settings(settings)
        runtimes.append(rt)
        return Result(run_doctor(rt, timeout=10))

    yield run
    for rt in runtimes:
        rt.close()
