"""The single `backoffice` entry point. Each command group lives in its own module
under `cli/` and registers itself on `cli` when imported (see COMMAND_MODULES)."""
from __future__ import annotations

import importlib

import click

# One line per command module; each module does `@cli.command()` / `@cli.group()`.
COMMAND_MODULES: list[str] = [
    "cli.broker",
    "cli.simulate",
    "cli.demo",
    "cli.worker",
    "cli.documents",
    "cli.operator",
    "cli.windows",
    "cli.lag",
    "cli.connectors",
    "cli.projector",
    "cli.reads",
    "cli.console",
    "cli.api",
]


class _Commands(click.Group):
    """Loads every command module before a command is looked up or listed, so `cli` is whole
    whoever imports it (a test's CliRunner as much as the console script)."""

    def get_command(self, ctx, cmd_name):
        _load_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx):
        _load_commands()
        return super().list_commands(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """backoffice: ATS events in; pay lines, invoices, credit memos and AR/GL syncs out."""


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name)


def main() -> None:
    _load_commands()
    cli(prog_name="backoffice")


if __name__ == "__main__":
    # Re-import so command modules register on the same `cli` object they import.
    from cli.main import main as _main

    _main()
