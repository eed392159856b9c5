"""Service commands: serve, worker, sync, config check, db upgrade/backup/restore."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import click
import yaml

from connector.cli import dry_run as dry_run_report
from connector.cli.common import EXIT_FAILURES, EXIT_OK, Obj, pass_obj
from connector.config import redacted
from connector.errors import LeaseHeld
from connector.runs import SUCCEEDED, RunService, get_run, run_as_dict
from connector.storage import backup, migrate


@click.command()
@click.option("--host", help="Override server.host.")
@click.option("--port", type=int, help="Override server.port.")
@click.option("--no-scheduler", is_flag=True, help="Serve HTTP only (run `worker` elsewhere).")
@pass_obj
def serve(obj: Obj, host: str | None, port: int | None, no_scheduler: bool) -> None:
    """Run the HTTP service (gunicorn) and the scheduler."""
    from connector.server import serve_forever

    settings = obj.settings()
    if host:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    obj.runtime().close()  # migrate once in the parent, before workers fork
    serve_forever(settings, with_scheduler=settings.schedule.enabled and not no_scheduler)


@click.command()
@pass_obj
def worker(obj: Obj) -> None:
    """Run the scheduler only: periodic syncs and outbox delivery, no HTTP."""
    from connector.scheduler import build_scheduler, exit_on_sigterm

    runtime = obj.runtime()
    click.echo(f"closedloop worker {runtime.holder}: scheduler running, Ctrl-C to stop", err=True)
    scheduler = build_scheduler(runtime, blocking=True)
    exit_on_sigterm()
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    runtime.close()


@click.command()
@click.option("--once", is_flag=True, default=True, help="Run one sync and exit (the default).")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Plan in memory and check it with the platforms' validate-only modes; "
    "send and store nothing.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@pass_obj
def sync(obj: Obj, once: bool, dry_run: bool, as_json: bool) -> None:
    """Pull deals, plan conversions and deliver them, once."""
    runtime = obj.runtime()
    try:
        run_id, status = RunService(runtime).run_now("cli", dry_run=dry_run)
        run = get_run(runtime, run_id)
    except LeaseHeld as held:
        click.echo(f"not started: {held}", err=True)
        runtime.close()
        sys.exit(EXIT_FAILURES)
    finally:
        runtime.close()  # the pool's connections are closed, not left to the garbage collector
    assert run is not None
    if as_json:
        click.echo(json.dumps(run_as_dict(run), indent=2, default=str))
    else:
        click.echo(
            f"run {run_id}: {status}{' (dry run: nothing sent or stored)' if dry_run else ''}"
        )
        for key, value in (run.counts or {}).items():
            click.echo(f"  {key}: {value}")
        if dry_run:
            for line in dry_run_report.report_lines(run.summary or {}):
                click.echo(line)
        failing = run_as_dict(run)["platform_errors"]
        for name, reason in failing.items():
            click.echo(f"  {name} failed: {reason}")
        if run.error and not failing:
            click.echo(f"  error: {run.error}")
    rejected = dry_run and dry_run_report.rejections(run.summary or {}) > 0
    sys.exit(EXIT_OK if status == SUCCEEDED and not rejected else EXIT_FAILURES)


@click.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@pass_obj
def config_check(obj: Obj) -> None:
    """Validate the config; print enabled platforms and the settings with secrets redacted."""
    settings = obj.settings()
    from connector.mapping import load_profile

    profile = load_profile(settings)
    enabled = settings.platforms.enabled()
    click.echo(f"config ok: {obj.config_path or 'defaults'}")
    click.echo(f"enabled platforms: {', '.join(enabled) if enabled else 'none'}")
    click.echo(f"mapping profile: {settings.mapping.profile} ({len(profile.events)} event rules)")
    click.echo(yaml.safe_dump(redacted(settings), sort_keys=False, default_flow_style=False))


@click.group("db")
def db_group() -> None:
    """Database maintenance."""


@db_group.command("upgrade")
@pass_obj
def db_upgrade(obj: Obj) -> None:
    """Apply pending migrations (also done automatically at start)."""
    runtime = obj.runtime(upgrade=False)
    before = migrate.current_revision(runtime.engine)
    migrate.upgrade(runtime.engine)
    after = migrate.current_revision(runtime.engine)
    click.echo(f"database at revision {after} (was {before or 'empty'})")


@db_group.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@pass_obj
def db_backup(obj: Obj, path: Path) -> None:
    """Write a consistent backup of the database to PATH, while the service runs.

    SQLite through its online backup API; PostgreSQL with pg_dump (custom format) when it is
    on PATH, else the command to run is printed.
    """
    url = obj.settings().database.connect_url()
    try:
        if backup.dialect(url) == "sqlite":
            database = backup.sqlite_file(url)
            pages = backup.backup_sqlite(database, path)
            click.echo(f"backed up {database} to {path} ({pages} pages)")
            return
        command = backup.pg_dump(url, path)
    except backup.BackupError as exc:
        click.echo(f"backup failed: {exc}", err=True)
        sys.exit(EXIT_FAILURES)
    if not backup.on_path("pg_dump"):
        click.echo("pg_dump is not on PATH; run this where the PostgreSQL client is:", err=True)
        click.echo(command.shown())
        sys.exit(EXIT_FAILURES)
    done = subprocess.run(
        command.argv, env=backup.environment(command), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        click.echo(f"backup failed: pg_dump: {done.stderr.strip()}", err=True)
        sys.exit(EXIT_FAILURES)
    click.echo(f"backed up to {path} (pg_dump custom format; restore with pg_restore)")


@db_group.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@pass_obj
def db_restore(obj: Obj, path: Path, force: bool) -> None:
    """Restore a `db backup` file into the configured database (stop the service first).

    SQLite only; for PostgreSQL the pg_restore command is printed (run it into an empty
    database).
    """
    url = obj.settings().database.connect_url()
    try:
        if backup.dialect(url) != "sqlite":
            click.echo("PostgreSQL: restore with pg_restore into an empty database:", err=True)
            click.echo(backup.pg_restore(url, path).shown())
            sys.exit(EXIT_FAILURES)
        database = backup.sqlite_file(url)
        revision = backup.restore_sqlite(path, database, force=force)
    except backup.BackupError as exc:
        click.echo(f"restore failed: {exc}", err=True)
        sys.exit(EXIT_FAILURES)
    click.echo(f"restored {path} into {database} (revision {revision})")
    click.echo("pending migrations are applied when the service starts (or: closedloop db upgrade)")
