"""The demo's last stage: the Back Office console beside the demo worker, reading the read model
that the demo's projector fills (cli/demo_worker.py), a clerk user for the first tenant, and the
console's address and login printed. On a
terminal the demo then keeps everything running until Ctrl-C; otherwise it stops at once."""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys

import click
import httpx

from cli.demo_worker import DEMO_APP, DEMO_TOKEN, ROOT, _wait, stop_worker

CLERK, PASSWORD = "clerk", "demo-clerk-password"


def _start(run, name: str, args: list[str], env: dict) -> subprocess.Popen:
    log = open(run.out_dir / f"{name}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env={**os.environ, **env},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stage_console(run) -> None:
    import sqlalchemy as sa

    from console.store import ConsoleStore
    from infra.broker import free_port

    tenant = sorted({e.record["tenant_id"] for e in run.facts["stream"].events if e.record})[0]
    port = free_port()
    env = {"KAFKA_BOOTSTRAP_SERVERS": run.bootstrap, "BACKOFFICE_APP_ID": DEMO_APP,
           "BACKOFFICE_DATA_DIR": str(run.out_dir / "state" / "console"),
           "BACKOFFICE_DATABASE_URL": f"sqlite:///{(run.out_dir / 'read-side' / 'readmodel.sqlite3').resolve()}",
           "BACKOFFICE_PROJECTOR_GROUP": f"{DEMO_APP}-projector",
           "BACKOFFICE_CONSOLE_DATABASE_URL": f"sqlite:///{(run.out_dir / 'console.sqlite3').resolve()}",
           "BACKOFFICE_CONSOLE_SECRET_KEY": secrets.token_urlsafe(32),
           "BACKOFFICE_OPS_TOKENS": json.dumps({DEMO_TOKEN: "*"}), "BACKOFFICE_OPS_API_URL": run.facts["api"],
           "BACKOFFICE_DOCUMENT_STORE": str(run.out_dir / "documents"), "PYTHONPATH": str(ROOT)}
    for leftover in ("console.sqlite3",):     # a previous demo's users belong to a broker that is gone
        for suffix in ("", "-wal", "-shm"):
            (run.out_dir / f"{leftover}{suffix}").unlink(missing_ok=True)
    ConsoleStore(sa.create_engine(env["BACKOFFICE_CONSOLE_DATABASE_URL"])).add_user(tenant, CLERK, PASSWORD, "clerk")
    procs = [_start(run, "console", ["console", "--port", str(port)], env)]
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(f"{url}/login"), 60, "the console to answer")
        click.echo(f"\nBack Office console: {url}/login\n"
                   f"  clerk: agency {tenant}, user {CLERK}, password {PASSWORD}\n"
                   f"  admin: the ops token {DEMO_TOKEN} with agency {tenant} (Invoice Setup, Operations, Users)")
        if sys.stdin.isatty():
            click.echo("the worker, projector, ops API and console keep running: Ctrl-C stops the demo")
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
    finally:
        stop_worker(procs)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
