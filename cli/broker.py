"""`backoffice broker` and `backoffice topics create`."""
from __future__ import annotations

import signal
import threading

import click

from cli.common import require_bootstrap, settings_or_exit
from cli.main import cli


@cli.command()
@click.option("--port", type=int, default=None, help="Port to listen on (default: a free one, or BACKOFFICE_BROKER_PORT).")
@click.option("--create-topics/--no-create-topics", default=True, help="Create the contract's topics once it is up.")
def broker(port: int | None, create_topics: bool) -> None:
    """Run the embedded Kafka-compatible broker (Tansu) on loopback until SIGTERM/SIGINT."""
    from infra.admin import create_topics as make_topics
    from infra.broker import EmbeddedBroker

    settings = settings_or_exit()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with EmbeddedBroker(port=port if port is not None else settings.broker_port) as embedded:
        if create_topics:
            make_topics(embedded.bootstrap)
        click.echo(f"KAFKA_BOOTSTRAP_SERVERS={embedded.bootstrap}", color=False)
        while not stop.wait(0.5):
            if embedded.process is None or embedded.process.poll() is not None:
                raise click.ClickException("the broker process exited")
    click.echo("broker stopped", err=True)


@cli.group()
def topics() -> None:
    """Topic administration on the Kafka given by KAFKA_BOOTSTRAP_SERVERS."""


@topics.command("create")
def topics_create() -> None:
    """Create every topic with its partition count and cleanup policy (idempotent)."""
    from infra.admin import create_topics
    from schemas.topics import TOPICS

    bootstrap = require_bootstrap(settings_or_exit())
    result = create_topics(bootstrap)
    for name in sorted(result):
        spec = TOPICS[name]
        click.echo(f"{name:32} {result[name]:8} partitions={spec.partitions} cleanup.policy={spec.cleanup_policy}")


@topics.command("list")
def topics_list() -> None:
    """Print the contract's topic table (no broker needed)."""
    from schemas.topics import TOPICS

    for spec in TOPICS.values():
        click.echo(f"{spec.name:32} key={spec.key:22} partitions={spec.partitions:<3} "
                   f"cleanup={spec.cleanup_policy:8} schema={spec.schema}")
