"""Process entry point: import every agent onto the app, then run a Faust worker."""
from __future__ import annotations

import importlib

AGENT_MODULES = [
    "workers.agents_accounts",
    "workers.agents_ledger",
    "workers.agents_commands",
    "workers.agents_windows",
    "workers.agents_documents",
    "workers.agents_scheduler",
]


def load_agents():
    for name in AGENT_MODULES:
        importlib.import_module(name)
    from workers.app import app

    return app


def run_worker(loglevel: str = "warn") -> None:
    import faust

    app = load_agents()
    faust.Worker(app, loglevel=loglevel, quiet=True).execute_from_commandline()
