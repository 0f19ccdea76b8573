"""The worker's ops endpoints on its Faust web server: /healthz, /readyz, /metrics."""
from __future__ import annotations

import os

from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ops.metrics import start_lag_metrics
from ops.readiness import BrokerProbe
from workers.app import app

LAG_INTERVAL = float(os.environ.get("BACKOFFICE_LAG_INTERVAL", "15"))
_broker = BrokerProbe(",".join(str(u).removeprefix("kafka://") for u in app.conf.broker),
                      timeout=float(os.environ.get("BACKOFFICE_READY_BROKER_TIMEOUT", "2")))


@app.page("/healthz")
class Healthz(View):
    """The process is up and its event loop answers."""

    async def get(self, request: Request) -> Response:
        return self.json({"status": "ok", "app": app.conf.id})


@app.page("/readyz")
class Readyz(View):
    """Broker reachable, partitions assigned, tables recovered: 503 with the reasons otherwise."""

    async def get(self, request: Request) -> Response:
        reasons = []
        if (unreachable := await _broker.reason()) is not None:
            reasons.append(unreachable)
        try:
            assigned = app.consumer.assignment()
        except Exception as exc:
            assigned, reasons = set(), [f"consumer not running: {exc}"]
        if not assigned:
            reasons.append("no partitions assigned yet")
        if not app.tables.recovery.completed.is_set():
            reasons.append("tables are still recovering from their changelogs")
        if app.producer is None or not getattr(app.producer, "_producer", True):
            reasons.append("producer not started")
        body = {"ready": not reasons, "reasons": reasons, "assigned_partitions": len(assigned)}
        return self.json(body, status=200 if not reasons else 503)


@app.page("/metrics")
class Metrics(View):
    """Prometheus text format: the project's metrics and every project group's lag."""

    async def get(self, request: Request) -> Response:
        return self.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.task
async def _start_lag_poller() -> None:
    start_lag_metrics(_broker.bootstrap, None, LAG_INTERVAL)
