"""The sync pauses the garbage collector for its pages and always gives it back."""

from __future__ import annotations

import gc

import pytest

from connector.runs import RunContext
from connector.sync import SyncStep


class Boom(Exception):
    """The CRM source fails to start."""


@pytest.mark.parametrize("enabled_before", [True, False])
def test_collector_settings_are_restored_even_when_the_sync_fails(sync_runtime, enabled_before):
    was = gc.isenabled()
    frozen = gc.get_freeze_count()
    seen: list[bool] = []

    def source(settings, profile):
        seen.append(gc.isenabled())  # during the sync: paused
        raise Boom

    (gc.enable if enabled_before else gc.disable)()
    try:
        with pytest.raises(Boom):
            SyncStep(source_factory=source)(RunContext(sync_runtime, run_id=1, trigger="test"))
        assert seen == [False]
        assert gc.isenabled() is enabled_before
        assert gc.get_freeze_count() == frozen
    finally:
        (gc.enable if was else gc.disable)()


def test_a_sync_leaves_the_collector_running(sync, hubspot, seed):
    """After a real run through the sandbox, automatic collection is back on."""
    assert gc.isenabled()
    assert sync() == "succeeded"
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
