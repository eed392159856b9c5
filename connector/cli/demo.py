"""``closedloop demo``: the full loop against the built-in sandbox."""

from __future__ import annotations

import sys

import click


@click.command()
@click.option(
    "--visitors",
    type=click.IntRange(10, 100_000),
    default=300,
    show_default=True,
    help="How many visitors to simulate.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same world.")
@click.option("--keep-running", is_flag=True, help="Leave the service and emulators up to explore.")
@click.option(
    "--no-google-utms",
    is_flag=True,
    help="Google clicks carry only their gclid (auto-tagging); campaigns come from click_view.",
)
@click.option(
    "--meta-url-ids",
    is_flag=True,
    help="Meta clicks carry their campaign/ad set/ad IDs (the recommended URL parameters).",
)
def demo(
    visitors: int, seed: int, keep_running: bool, no_google_utms: bool, meta_url_ids: bool
) -> None:
    """Run the whole loop against local emulators of HubSpot, Google Ads, GA4 and Meta."""
    import logging

    from connector.demo.run import run_demo
    from connector.logs import setup_logging

    setup_logging("WARNING", "text")
    logging.getLogger("connector").setLevel(logging.WARNING)
    click.echo(
        f"closedloop demo: {visitors} visitors, seed {seed}; everything stays on this machine"
    )
    result = run_demo(
        visitors,
        seed,
        echo=click.echo,
        keep_running=keep_running,
        google_utms=not no_google_utms,
        meta_url_ids=meta_url_ids,
    )
    failed = [r for r in result.runs if r["status"] not in ("succeeded", "partial")]
    click.echo("")
    click.echo(f"demo data kept in {result.workdir} (config: {result.config_path})")
    sys.exit(1 if failed else 0)


COMMANDS = [demo]
