"""Helpers every command shares: settings, and a broker (the configured Kafka or the embedded one)."""
from __future__ import annotations

import contextlib
from typing import Iterator

import click

from infra.settings import Settings, SettingsError, load_settings


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.contextmanager
def kafka(settings: Settings, *, announce: bool = True) -> Iterator[str]:
    """Yield a bootstrap address: KAFKA_BOOTSTRAP_SERVERS, or an embedded broker for the duration."""
    if settings.kafka_bootstrap_servers:
        yield settings.kafka_bootstrap_servers
        return
    from infra.broker import EmbeddedBroker

    with EmbeddedBroker(port=settings.broker_port) as broker:
        if announce:
            click.echo(f"embedded broker (Tansu) at {broker.bootstrap}", err=True)
        yield broker.bootstrap


def require_bootstrap(settings: Settings) -> str:
    if not settings.kafka_bootstrap_servers:
        raise click.ClickException("KAFKA_BOOTSTRAP_SERVERS is not set (start one with `backoffice broker`)")
    return settings.kafka_bootstrap_servers
