"""Process entry point: import every agent onto the app, then run a Faust worker."""
from __future__ import annotations

import importlib
import os

AGENT_MODULES = [
    "workers.agents_accounts",
    "workers.agents_ledger",
    "workers.agents_commands",
    "workers.agents_windows",
    "workers.agents_documents",
    "workers.agents_scheduler",
    "workers.web",
    "workers.agents_sync_status",
    "workers.api_views",
]


def load_agents():
    for name in AGENT_MODULES:
        importlib.import_module(name)
    from workers.app import app

    return app


def _maybe_profile() -> None:
    """BACKOFFICE_PROFILE=path: profile the event loop thread (bench/ingest.py reads it)."""
    path = os.environ.get("BACKOFFICE_PROFILE")
    if not path:
        return
    import atexit
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()

    def dump() -> None:
        profiler.disable()
        profiler.dump_stats(path)

    atexit.register(dump)


def worker_class():
    """faust.Worker with our log handling (a function: importing faust is for worker processes only)."""
    import faust

    from infra.settings import load_settings
    from ops.logs import setup_root_logger

    log_format = load_settings().log_format

    class Worker(faust.Worker):
        def on_setup_root_logger(self, logger, level: int) -> None:
            """Our handler in place of Faust's, JSON lines (BACKOFFICE_LOG_FORMAT=json, the default)
            or text, redacted either way (see ops.logs).

            No terminal spinner: Faust's spinner sets the root logger to DEBUG so that every
            debug call of aiokafka and Faust (two per produced message) builds a LogRecord,
            about 6% of a busy worker's time. The root logger keeps the configured level.
            """
            self.spinner = None
            super().on_setup_root_logger(logger, level)
            setup_root_logger(logger, level, log_format)

    return Worker


def run_worker(loglevel: str = "warn") -> None:
    _maybe_profile()
    app = load_agents()
    worker_class()(app, loglevel=loglevel, quiet=True).execute_from_commandline()
