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


def guard_local_state(app, reset: bool) -> None:
    """Before the worker starts: refuse local state of another broker (infra.local_state), or move it
    aside with `reset`; once the tables are recovered, record which broker this state belongs to."""
    import asyncio
    import logging
    from pathlib import Path

    from documents.settings import DocumentSettings
    from infra.local_state import broker_identity, check_local_state, write_marker

    bootstrap = ",".join(str(u).removeprefix("kafka://") for u in app.conf.broker)
    state_dir = Path(app.conf.datadir)
    changelogs = sorted({t.changelog_topic.get_topic_name() for t in app.tables.values()})
    moved = check_local_state(bootstrap, state_dir, [Path(DocumentSettings().sent_log)], changelogs, reset)
    for folder in moved:
        logging.getLogger(__name__).warning("local state of another broker moved aside to %s", folder)

    @app.task
    async def _record_broker() -> None:
        await app.tables.recovery.completed.wait()
        identity = await asyncio.get_running_loop().run_in_executor(None, broker_identity, bootstrap, changelogs)
        if all(identity.topic_ids.values()):
            write_marker(state_dir, identity)


def run_worker(loglevel: str = "warn", reset_local_state: bool = False) -> None:
    _maybe_profile()
    app = load_agents()
    guard_local_state(app, reset_local_state)
    worker_class()(app, loglevel=loglevel, quiet=True).execute_from_commandline()
