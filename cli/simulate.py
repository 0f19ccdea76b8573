"""`backoffice simulate`: publish a reproducible ATS event stream."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from cli.common import require_bootstrap, settings_or_exit
from cli.main import cli


@cli.command()
@click.option("--tenants", type=click.IntRange(1, 500), default=3, show_default=True)
@click.option("--placements", type=click.IntRange(1, 100000), default=20, show_default=True, help="Placements per tenant.")
@click.option("--weeks", type=click.IntRange(1, 260), default=4, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2026-09-07", show_default=True,
              help="First week (its Monday); all timestamps derive from it, never the wall clock.")
@click.option("--bad-rate", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Chance per placement of an extra malformed message.")
@click.option("--expected", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the expected pay lines as JSON here.")
@click.option("--dry-run", is_flag=True, help="Generate and count, publish nothing.")
def simulate(tenants, placements, weeks, seed, start, bad_rate, expected, dry_run) -> None:
    """Publish Billto hierarchies, placements, timesheets and fees for N tenants."""
    from simulator.generate import generate
    from simulator.publish import publish, write_expected

    stream = generate(tenants=tenants, placements=placements, weeks=weeks, seed=seed,
                      start=start.date() if isinstance(start, dt.datetime) else start, bad_rate=bad_rate)
    counts = stream.counts() if dry_run else publish(stream, require_bootstrap(settings_or_exit()))
    for topic in sorted(counts):
        click.echo(f"{topic:20} {counts[topic]:>8}")
    click.echo(f"{'total':20} {sum(counts.values()):>8}  (malformed: {stream.bad_events}, "
               f"expected pay lines: {len(stream.expected_pay_lines)})")
    if expected:
        write_expected(stream, expected)
        click.echo(f"expected pay lines written to {expected}")
