"""`backoffice api`: the ops HTTP API (JSON, OpenAPI at /openapi.json) in its own process, answered
from the read model that `backoffice projector` fills; commands go on billing.commands."""
from __future__ import annotations

import click

from cli.common import settings_or_exit
from cli.main import cli


@cli.command()
@click.option("--host", default=None, help="Listen address (default BACKOFFICE_API_HOST).")
@click.option("--port", type=int, default=None, help="Port (default BACKOFFICE_API_PORT).")
def api(host, port) -> None:
    """Serve the ops API (tokens: BACKOFFICE_OPS_TOKENS; read model: BACKOFFICE_DATABASE_URL or SQLite
    under BACKOFFICE_DATA_DIR; commands: KAFKA_BOOTSTRAP_SERVERS)."""
    import uvicorn

    from api.app import create_app
    from ops.logs import configure_logging

    settings = settings_or_exit()
    configure_logging(settings.log_format, settings.log_level)     # JSON lines, secrets redacted
    try:
        app = create_app(settings)
    except ValueError as exc:        # a malformed BACKOFFICE_OPS_TOKENS
        raise click.ClickException(str(exc)) from None
    uvicorn.run(app, host=host or settings.api_host, port=port if port is not None else settings.api_port,
                log_config=None, log_level=settings.log_level.lower(), access_log=False)
