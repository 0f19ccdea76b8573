"""`backoffice projector`: materialize the billing topics into the read model's database."""
from __future__ import annotations

import logging

import click

from cli.common import require_bootstrap, settings_or_exit
from cli.main import cli


@cli.command()
@click.option("--batch-size", type=int, default=5000, show_default=True,
              help="Most messages stored per transaction.")
def projector(batch_size: int) -> None:
    """Project billing.paylines, billing.invoices, billing.sync, billing.outcomes and the dead-letter
    topics into SQL (BACKOFFICE_DATABASE_URL, default SQLite under BACKOFFICE_DATA_DIR). Run as many
    processes as you like: they share the consumer group BACKOFFICE_PROJECTOR_GROUP."""
    from infra.settings import database_url
    from readmodel.projector import run_projector

    settings = settings_or_exit()
    bootstrap = require_bootstrap(settings)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    run_projector(bootstrap, database_url(settings), settings.projector_group, batch_size=batch_size)
