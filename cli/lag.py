"""`backoffice lag`: per group, topic and partition: committed offset, log end, lag, owner; and a verdict."""
from __future__ import annotations

import json

import click

from cli.common import require_bootstrap, settings_or_exit
from cli.main import cli
from ops.lag import as_json, format_table, watch


@cli.command()
@click.option("--group", "groups", multiple=True, help="Only this consumer group (repeatable).")
@click.option("--watch", "every", type=float, default=None, help="Sample every SECONDS, with verdicts over a window.")
@click.option("--count", type=int, default=None, help="With --watch: stop after this many samples.")
@click.option("--json", "as_json_output", is_flag=True, help="Machine-readable output.")
def lag(groups, every, count, as_json_output) -> None:
    """Consumer lag of the workers' and connectors' groups (like kafka-consumer-groups --describe)."""
    bootstrap = require_bootstrap(settings_or_exit())

    def emit(result):
        if as_json_output:
            click.echo(json.dumps(as_json(result)))
        else:
            click.echo(format_table(result))

    watch(bootstrap, list(groups) or None, every or 0, 1 if every is None else count, emit)
