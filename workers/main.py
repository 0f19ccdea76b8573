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
]
EXIT_NEW_BROKER = 3         # the broker came back empty (a new memory-only one): see guard_local_state


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
    from ops.broker_watch import exit_when_stuck, install_gate
    from ops.logs import setup_root_logger
    from ops.readiness import BrokerProbe

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
            install_gate(_bootstrap(self.app), logger)      # broker gone: one WARNING, not a flood

        def _on_sigterm(self) -> None:
            """A SIGTERM while the broker is gone still ends the process, with code 0, in seconds."""
            exit_when_stuck(BrokerProbe(_bootstrap(self.app), timeout=1.0))
            super()._on_sigterm()

    return Worker


def _bootstrap(app) -> str:
    return ",".join(str(u).removeprefix("kafka://") for u in app.conf.broker)


def guard_local_state(app, reset: bool):
    """Before the worker starts: refuse local state of another broker (infra.local_state), or move it
    aside with `reset`; once the tables are recovered, record which broker this state belongs to;
    while it runs, watch the broker (ops.broker_watch). Returns the "is it a new broker?" check."""
    import asyncio
    import logging
    from pathlib import Path

    from documents.settings import DocumentSettings
    from infra.local_state import broker_identity, check_local_state, mismatch, read_marker, write_marker
    from ops.broker_watch import BrokerWatch
    from ops.readiness import BrokerProbe

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

    def new_broker() -> str | None:
        """Why the broker now answering is not the one our tables and sent log belong to (a new
        embedded, memory-only broker on the same port), or None."""
        recorded = read_marker(state_dir)
        if recorded is None:      # nothing recorded yet (a first start): no broker to compare with
            return None
        return mismatch(recorded, broker_identity(bootstrap, changelogs, timeout=5.0))

    async def _same_broker_again() -> None:
        reason = await asyncio.get_running_loop().run_in_executor(None, new_broker)
        if reason is not None:
            stop_for_new_broker(bootstrap, reason)
            os._exit(EXIT_NEW_BROKER)

    @app.task
    async def _watch_broker() -> None:
        probe = BrokerProbe(bootstrap, timeout=1.0, ttl=0.0)
        await BrokerWatch(probe, "worker (/readyz answers 503 until it is back)", every=2.0,
                          on_back=_same_broker_again).run()

    return new_broker


def stop_for_new_broker(bootstrap: str, reason: str) -> None:
    """Running on would be running on half a memory: say so once (a restart refuses the same way
    until --reset-local-state), flush, and let the caller exit with EXIT_NEW_BROKER."""
    import logging

    logging.getLogger(__name__).error(
        "the broker at %s came back without this worker's state (%s): it is a new broker, not the one our "
        "tables and sent log belong to; stopping (exit code %d). Restart with --reset-local-state "
        "(BACKOFFICE_RESET_LOCAL_STATE=1) to start clean against it.", bootstrap, reason, EXIT_NEW_BROKER)
    for handler in logging.getLogger().handlers:
        handler.flush()


def run_worker(loglevel: str = "warn", reset_local_state: bool = False) -> None:
    _maybe_profile()
    app = load_agents()
    new_broker = guard_local_state(app, reset_local_state)
    try:
        worker_class()(app, loglevel=loglevel, quiet=True).execute_from_commandline()
    except SystemExit as exc:
        # Faust's consumer may trip over the new broker's missing topics before the watch sees it
        if exc.code not in (0, None):
            try:
                reason = new_broker()
            except Exception:            # no broker to ask: the crash speaks for itself
                reason = None
            if reason is not None:
                stop_for_new_broker(_bootstrap(app), reason)
                raise SystemExit(EXIT_NEW_BROKER) from None
        raise
