"""A live system for tests of the ops API: billing worker(s), `backoffice projector` and
`backoffice api`, each a real process on the session's embedded broker, sharing a SQLite read model."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from infra.broker import free_port
from tests.workers.harness import WorkerProcess, wait_until


@dataclass
class Stack:
    base: str
    env: dict
    workers: list[WorkerProcess]
    projector: WorkerProcess
    api: WorkerProcess
    extra: dict = field(default_factory=dict)

    def logs(self) -> str:
        return "\n".join(f"--- {name}:\n{p.log()[-2500:]}" for name, p in
                         [*((f"worker {i}", w) for i, w in enumerate(self.workers)), ("projector", self.projector),
                          ("api", self.api)])

    def stop(self) -> None:
        for p in (self.api, self.projector, *self.workers):
            p.stop()


def read_side_env(bootstrap: str, app_id: str, data: Path, tokens: dict) -> dict:
    """What the projector and the API share: the read model, the projector's group, the tokens."""
    return {"KAFKA_BOOTSTRAP_SERVERS": bootstrap, "BACKOFFICE_DATABASE_URL": f"sqlite:///{data / 'readmodel.sqlite3'}",
            "BACKOFFICE_PROJECTOR_GROUP": f"{app_id}-projector", "BACKOFFICE_OPS_TOKENS": json.dumps(tokens),
            "BACKOFFICE_API_HOST": "127.0.0.1", "BACKOFFICE_DATA_DIR": str(data / "read-side")}


def start_stack(bootstrap: str, app_id: str, data: Path, tokens: dict, worker_env: dict, workers: int = 1,
                web_ports: bool = False) -> Stack:
    port = free_port()
    env = {**read_side_env(bootstrap, app_id, data, tokens), "BACKOFFICE_API_PORT": str(port),
           **{k: v for k, v in worker_env.items() if k in ("BACKOFFICE_CLOCK", "BACKOFFICE_DOCUMENT_STORE")}}
    started = [WorkerProcess(bootstrap, app_id, data, worker_id=str(i), extra_env=worker_env,
                             web_port=free_port() if web_ports else 0).start() for i in range(workers)]
    projector = WorkerProcess(bootstrap, app_id, data, worker_id="projector", extra_env=env,
                              command=[sys.executable, "-m", "cli.main", "projector"]).start()
    api = WorkerProcess(bootstrap, app_id, data, worker_id="api", extra_env=env,
                        command=[sys.executable, "-m", "cli.main", "api"]).start()
    stack = Stack(f"http://127.0.0.1:{port}", env, started, projector, api)
    try:
        wait_until(lambda: _ready(stack.base), 120, message=f"the API's /readyz\n{stack.logs()}")
    except BaseException:
        stack.stop()
        raise
    return stack


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
