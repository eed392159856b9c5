"""``closedloop db backup`` / ``db restore``: the dedup history survives, nothing is re-sent.

The whole loop runs against the sandboxes (HubSpot, Google, GA4, Meta): a won deal is synced
and delivered, the store is backed up and restored into a new database, and syncing again from
the restored store sends only what is new. On PostgreSQL the backup is ``pg_dump`` and the
restore is the ``pg_restore`` command ``db restore`` prints, run into a second database.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from connector.cli import cli
from connector.runs import SUCCEEDED, RunService, get_run
from connector.runtime import Runtime
from connector.storage.models import Conversion, utcnow
from platforms import SANDBOXES, load
from platforms.hubspot.sandbox import HubSpotSandbox
from tests.sync.conftest import Seeder, won_deal

DESTINATIONS = ("google_ads", "ga4", "meta")
#: Where each sandbox's ``accepted`` records keep the dedup key.
KEPT = {"google_ads": "transaction_id", "ga4": "transaction_id", "meta": "event_id"}


@pytest.fixture
def hubspot() -> Iterator[HubSpotSandbox]:
    """HubSpot on the real clock (the destinations refuse events days old)."""
    sandbox = HubSpotSandbox()
    with sandbox.start():
        yield sandbox


@pytest.fixture
def sandboxes() -> Iterator[dict[str, Any]]:
    """The three destination sandboxes, started on the real clock."""
    started = {name: load(SANDBOXES[name])().start() for name in DESTINATIONS}
    yield started
    for sandbox in started.values():
        sandbox.stop()


def config_for(url: str, hubspot: HubSpotSandbox, sandboxes: dict[str, Any]) -> dict[str, Any]:
    return {
        "database": {"url": url},
        "server": {"trigger_token": "test-trigger-token"},
        "platforms": {
            "hubspot": hubspot.platform_config(),
            **{name: sandbox.platform_config() for name, sandbox in sandboxes.items()},
        },
    }


def write_config(tmp_path: Path, name: str, config: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def buyer(hubspot: HubSpotSandbox, sandboxes: dict[str, Any], rt: Runtime, email: str) -> str:
    """A contact whose tracked visitor has a fresh gclid, a GA client ID and a Meta cookie."""
    seed = Seeder(rt, n=uuid.uuid4().int % 9000)  # visitor IDs unique across stores
    gclid = f"Cj0KCQ-{uuid.uuid4().hex[:10]}"
    sandboxes["google_ads"].add_click(gclid, utcnow() - timedelta(days=3))
    contact = hubspot.add_contact({"email": email})
    visitor = seed.visitor(
        seed.person(email),
        ga_client_id=f"{uuid.uuid4().int % 10**9}.1700000000",
        fbp="fb.1.1700000000000.42",
        consent_ad_user_data=True,
        consent_ad_personalization=True,
    )
    seed.touch(visitor, utcnow() - timedelta(days=3), click=("gclid", gclid))
    return contact


def sync_and_deliver(config: dict[str, Any], make_settings) -> dict[str, int]:
    """One scheduled run (sync, then delivery to the sandboxes); its counts."""
    rt = Runtime.from_settings(make_settings(config))
    try:
        run_id, status = RunService(rt).run_now("test")
        run = get_run(rt, run_id)
    finally:
        rt.close()
    assert status == SUCCEEDED, run.error if run else None
    return dict(run.counts or {})


def sent(counts: dict[str, int]) -> dict[str, int]:
    """How many conversions each platform took in a run (absent: none sent)."""
    return {name: counts.get(f"{name}.accepted", 0) for name in DESTINATIONS}


def kept(sandboxes: dict[str, Any]) -> dict[str, list[str]]:
    """Every dedup key each platform accepted, in arrival order (a re-send shows twice)."""
    return {
        name: [str(r[KEPT[name]]) for r in sandbox.accepted] for name, sandbox in sandboxes.items()
    }


def invoke(config_path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["-c", str(config_path), "db", *args])


@pytest.fixture
def second_database(db_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database to restore into: a new SQLite file, or a new PostgreSQL database."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def restore(config_path: Path, backup: Path) -> None:
    """``db restore``: done for SQLite; for PostgreSQL, run the pg_restore command it prints."""
    result = invoke(config_path, "restore", str(backup))
    config = yaml.safe_load(config_path.read_text())
    if make_url(config["database"]["url"]).get_backend_name() == "sqlite":
        assert result.exit_code == 0, result.output
        assert "restored" in result.output
        return
    assert result.exit_code == 1, result.output
    [command] = [line for line in result.output.splitlines() if line.startswith("pg_restore ")]
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_backup_restore_then_sync_resends_nothing(
    hubspot, sandboxes, make_settings, db_url, second_database, tmp_path
):
    """Delivered before the backup stays delivered after the restore; only new deals go out."""
    if make_url(db_url).get_backend_name() != "sqlite" and not shutil.which("pg_dump"):
        pytest.skip("pg_dump is not installed")
    original = config_for(db_url, hubspot, sandboxes)
    rt = Runtime.from_settings(make_settings(original))
    first = won_deal(
        hubspot,
        [buyer(hubspot, sandboxes, rt, "ann@example.com")],
        close=utcnow() - timedelta(hours=2),
    )
    rt.close()
    assert sent(sync_and_deliver(original, make_settings)) == dict.fromkeys(DESTINATIONS, 1)
    before = kept(sandboxes)
    assert before == {name: [f"cl-{first}-closed_won"] for name in DESTINATIONS}

    backup = tmp_path / "closedloop.backup"
    result = invoke(write_config(tmp_path, "original.yaml", original), "backup", str(backup))
    assert result.exit_code == 0, result.output
    assert backup.stat().st_size > 0

    restored = config_for(second_database, hubspot, sandboxes)
    restore(write_config(tmp_path, "restored.yaml", restored), backup)

    rt = Runtime.from_settings(make_settings(restored))
    with rt.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Conversion)) == len(DESTINATIONS)
    rt.close()
    hubspot.update_deal(first, dealname="Renamed after the restore")  # pulled again
    counts = sync_and_deliver(restored, make_settings)
    assert counts["deals_pulled"] == 1 and counts["conversions_planned"] == 0
    assert sent(counts) == dict.fromkeys(DESTINATIONS, 0)

    rt = Runtime.from_settings(make_settings(restored))
    second = won_deal(
        hubspot,
        [buyer(hubspot, sandboxes, rt, "bob@example.com")],
        close=utcnow() - timedelta(hours=1),
    )
    rt.close()
    assert sent(sync_and_deliver(restored, make_settings)) == dict.fromkeys(DESTINATIONS, 1)
    after = kept(sandboxes)
    assert after == {
        name: [f"cl-{first}-closed_won", f"cl-{second}-closed_won"] for name in DESTINATIONS
    }


def test_without_the_history_the_same_deal_would_go_out_again(
    hubspot, sandboxes, make_settings, tmp_path
):
    """The control: an empty store re-sends a delivered deal, which is what backups prevent."""
    stores = [config_for(f"sqlite:///{tmp_path / n}", hubspot, sandboxes) for n in ("a", "b")]
    deal, counts = None, {}
    for config in stores:  # the same world, synced from two stores
        rt = Runtime.from_settings(make_settings(config))
        if deal is None:
            deal = won_deal(
                hubspot,
                [buyer(hubspot, sandboxes, rt, "ann@example.com")],
                close=utcnow() - timedelta(hours=2),
            )
        else:
            Seeder(rt).person("ann@example.com")  # known person, but no dedup history
        rt.close()
        counts = sync_and_deliver(config, make_settings)
    assert counts["conversions_planned"] >= 1 and sent(counts)["meta"] == 1  # sent again
    assert kept(sandboxes)["meta"] == [f"cl-{deal}-closed_won"]  # (Meta's own dedup hid it)
