"""The contract kit runs once per registered destination (``platforms.DESTINATIONS``).

A new destination gets every test here by its registry entry alone; a destination without a
sandbox, or whose sandbox lacks part of ``DestinationSandbox``, fails with what to implement.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import platforms
from connector.runtime import Runtime
from platforms.sandbox_kit import FaultPlan
from tests.contract.kit import RETRY_AFTER, World, require


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``destination`` over the registry, in its order."""
    if "destination" in metafunc.fixturenames:
        metafunc.parametrize("destination", list(platforms.DESTINATIONS))


def contract_config(sandbox: Any) -> dict[str, Any]:
    """The sandbox's config section, with what makes its per-item errors visible."""
    return {**sandbox.platform_config(), **dict(getattr(sandbox, "item_errors_config", {}))}


@pytest.fixture
def world(destination: str, make_settings) -> Iterator[World]:
    """The destination's sandbox started and a runtime configured for it alone.

    Backoff starts at one second, so a retry's delay is the platform's hint (the floor).
    """
    path = platforms.SANDBOXES.get(destination)
    if path is None:
        pytest.fail(
            f"{destination} is a registered destination without a sandbox: add "
            f"platforms/{destination}/sandbox/ and its 'sandbox' registry entry"
        )
    sandbox = platforms.load(path)(faults=FaultPlan(retry_after_seconds=RETRY_AFTER))
    require(sandbox, destination)
    sandbox.start()
    settings = make_settings(
        {
            "platforms": {destination: contract_config(sandbox)},
            "delivery": {"request_timeout_seconds": 10, "backoff_base_seconds": 1},
        }
    )
    runtime = Runtime.from_settings(settings)
    cls = platforms.load(platforms.DESTINATIONS[destination])
    try:
        yield World(destination, cls, sandbox, settings, runtime)
    finally:
        runtime.close()
        sandbox.stop()
