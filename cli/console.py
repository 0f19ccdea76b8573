"""`backoffice console`: the clerks' web screens (console/), served by uvicorn. `console-user`
adds a user from the command line (the first admin can also log in with the tenant's ops token)."""
from __future__ import annotations

import click

from cli.common import settings_or_exit
from cli.main import cli


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default BACKOFFICE_CONSOLE_HOST).")
@click.option("--port", type=int, default=None, help="Port (default BACKOFFICE_CONSOLE_PORT; 0 = any free port).")
def console(host, port) -> None:
    """Serve the Back Office console: List Batches, Invoices, Line Items, Credit Memo, Invoice Setup."""
    import uvicorn

    from console.app import create_app

    settings = settings_or_exit()
    app = create_app(settings, migrate_read_model=True)
    config = uvicorn.Config(app, host=host or settings.console_host,
                            port=settings.console_port if port is None else port, log_level="warning",
                            proxy_headers=False, server_header=False)
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets=None):
        await original(sockets)
        for s in server.servers:
            for sock in s.sockets:
                h, p = sock.getsockname()[:2]
                click.echo(f"console listening on http://{h}:{p}", err=True)
    server.startup = startup
    server.run()


@cli.command("console-user")
@click.option("--tenant", required=True)
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["clerk", "admin"]), default="clerk", show_default=True)
@click.password_option()
def console_user(tenant, username, role, password) -> None:
    """Add a console user (password hashed with argon2)."""
    import sqlalchemy as sa

    from console.store import ConsoleStore, UserRefused
    from infra.settings import console_database_url

    try:
        ConsoleStore(sa.create_engine(console_database_url(settings_or_exit()))).add_user(tenant, username, password,
                                                                                          role)
    except UserRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {username} ({role}) of {tenant} added")
