"""`backoffice worker`: run one Faust worker process (start it as many times as you want processes)."""
from __future__ import annotations

import os

import click

from cli.common import settings_or_exit
from cli.main import cli


@cli.command()
@click.option("--worker-id", default=None, help="Distinguishes local state dirs of several processes on one host.")
@click.option("--web-port", type=int, default=None, help="Ops HTTP port (default BACKOFFICE_WEB_PORT).")
@click.option("--loglevel", type=click.Choice(["crit", "error", "warn", "info", "debug"]), default="warn",
              show_default=True)
@click.option("--reset-local-state", is_flag=True, default=False,
              help="Local state (tables, sent log) of another broker is moved aside instead of refused "
                   "(default BACKOFFICE_RESET_LOCAL_STATE).")
def worker(worker_id: str | None, web_port: int | None, loglevel: str, reset_local_state: bool) -> None:
    """Run a stream-processing worker against KAFKA_BOOTSTRAP_SERVERS."""
    settings = settings_or_exit()
    if not settings.kafka_bootstrap_servers:
        raise click.ClickException("KAFKA_BOOTSTRAP_SERVERS is not set (start one with `backoffice broker`)")
    if worker_id is not None:
        os.environ["BACKOFFICE_WORKER_ID"] = worker_id
    if web_port is not None:
        os.environ["BACKOFFICE_WEB_PORT"] = str(web_port)
    from infra.local_state import LocalStateMismatch
    from workers.main import run_worker

    try:
        run_worker(loglevel=loglevel, reset_local_state=reset_local_state or settings.reset_local_state)
    except LocalStateMismatch as exc:
        raise click.ClickException(str(exc)) from None
