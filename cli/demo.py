"""`backoffice demo`: the whole path that exists, end to end on a real broker, with a summary.

Each stage is a function taking the DemoRun and printing its part; later stages
(worker, invoices, PDFs, exports, lag) append themselves to STAGES.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import click

from cli.common import kafka, settings_or_exit
from cli.main import cli


@dataclass
class DemoRun:
    bootstrap: str
    out_dir: Path
    start: dt.date
    weeks: int
    tenants: int
    placements: int
    seed: int
    facts: dict = field(default_factory=dict)


def stage_topics(run: DemoRun) -> None:
    from infra.admin import create_topics

    result = create_topics(run.bootstrap)
    click.echo(f"topics: {sum(v == 'created' for v in result.values())} created, "
               f"{sum(v == 'exists' for v in result.values())} already there")


def stage_simulate(run: DemoRun) -> None:
    from simulator.generate import generate
    from simulator.publish import publish, write_expected

    stream = generate(tenants=run.tenants, placements=run.placements, weeks=run.weeks, seed=run.seed,
                      start=run.start, bad_rate=0.02)
    run.facts["published"] = publish(stream, run.bootstrap)
    run.facts["stream"] = stream
    write_expected(stream, run.out_dir / "expected-pay-lines.json")
    click.echo(f"published {sum(run.facts['published'].values())} ATS events "
               f"({stream.bad_events} deliberately malformed) for {run.tenants} tenants")


def stage_read_back(run: DemoRun) -> None:
    from infra.readback import read_to_end
    from schemas.codec import DecodeError, decode

    click.echo("\nround trip through the broker (consumed back and decoded):")
    click.echo(f"  {'topic':20} {'published':>9} {'consumed':>9} {'decoded':>8} {'rejected':>8}")
    for topic, sent in sorted(run.facts["published"].items()):
        consumed, decoded, rejected = 0, Counter(), 0
        for msg in read_to_end(run.bootstrap, topic):
            consumed += 1
            try:
                decoded[decode(msg.value(), topic=topic, partition=msg.partition(), offset=msg.offset()).schema_name] += 1
            except DecodeError:
                rejected += 1
        click.echo(f"  {topic:20} {sent:>9} {consumed:>9} {sum(decoded.values()):>8} {rejected:>8}")
        if consumed != sent:
            raise click.ClickException(f"{topic}: published {sent} but consumed {consumed}")


def stage_with_worker(run: DemoRun) -> None:
    from cli import demo_worker as w
    from cli.demo_console import stage_console

    with w.SmtpSink() as smtp:
        run.facts["smtp"] = smtp
        run.facts["clock"] = dt.datetime.combine(run.start + dt.timedelta(weeks=run.weeks, days=3), dt.time(12),
                                                 tzinfo=dt.timezone.utc)
        procs = w.start_worker(run)
        try:
            for stage in (w.stage_worker_ingest, w.stage_close_windows, w.stage_batches, w.stage_record,
                          w.stage_exports, w.stage_lag, stage_console):
                stage(run)
        finally:
            w.stop_worker(procs)


STAGES: list[Callable[[DemoRun], None]] = [stage_topics, stage_simulate, stage_read_back, stage_with_worker]


@cli.command()
@click.option("--tenants", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--placements", type=click.IntRange(1, 2000), default=25, show_default=True)
@click.option("--weeks", type=click.IntRange(1, 52), default=4, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-out"),
              show_default=True, help="Where the demo writes its files.")
def demo(tenants: int, placements: int, weeks: int, seed: int, out_dir: Path) -> None:
    """Run the system end to end on the embedded broker (or KAFKA_BOOTSTRAP_SERVERS) and summarize."""
    settings = settings_or_exit()
    out_dir.mkdir(parents=True, exist_ok=True)
    with kafka(settings) as bootstrap:
        run = DemoRun(bootstrap, out_dir, dt.date(2026, 9, 7), weeks, tenants, placements, seed)
        for stage in STAGES:
            stage(run)
    click.echo(f"\ndemo files in {out_dir.resolve()}")
