"""Every door of a real worker's web server: each route it serves (read from its live router,
not a hand list) refuses a caller without a token and a caller with another tenant's token;
only /healthz, /readyz and /metrics are open, and Faust's own views are not served. The ops API
moved to its own process (`backoffice api`): its doors are tests/api/test_doors.py."""
from __future__ import annotations

import datetime as dt
import json
import re
import sys

import httpx
import pytest

from infra.admin import create_topics
from infra.broker import free_port
from schemas.codec import encode
from schemas.topics import ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS
from simulator.records import account_record, placement_record, timesheet_record
from tests.api.test_live import api_worker_env
from tests.workers.harness import WorkerProcess, produce, wait_drained, wait_until
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
WEEK = dt.date(2026, 9, 6)
OPEN = {"/healthz", "/readyz", "/metrics"}
MAX_BODY = 256 * 1024


@pytest.fixture(scope="module")
def doors(kafka_bootstrap, tmp_path_factory):
    """One worker with two tenants: `a` has nothing, `b` a placement and a timesheet."""
    create_topics(kafka_bootstrap)
    app_id = f"doors{free_port()}"
    a, b = f"{app_id}a", f"{app_id}b"
    produce(kafka_bootstrap, [
        (ATS_ACCOUNTS, f"{b}:acme".encode(), encode("AccountUpserted", account_record(b, "acme", "Acme"))),
        (ATS_PLACEMENTS, f"{b}:p1".encode(), encode("PlacementUpserted", placement_record(b, "p1", "acme"))),
        (ATS_TIMESHEETS, f"{b}:p1".encode(), encode("TimesheetApproved", timesheet_record(b, "p1", WEEK)))])
    port = free_port()
    data = tmp_path_factory.mktemp("doors")
    routes_file = data / "routes.json"
    tokens = {"root-token": "*", "a-token": a, "b-token": b}
    worker = WorkerProcess(kafka_bootstrap, app_id, data, web_port=port,
                           command=[sys.executable, "-m", "tests.ops.route_dump", str(routes_file)],
                           extra_env={**api_worker_env(data), "BACKOFFICE_OPS_TOKENS": json.dumps(tokens),
                                      "BACKOFFICE_API_MAX_BODY_BYTES": str(MAX_BODY)}
                           ).start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 120, message="readyz")
        wait_drained(kafka_bootstrap, app_id, ingest_topics(app_id))
        wait_until(routes_file.exists, 30, message="the worker's route list")
        yield {"base": base, "a": a, "b": b, "routes": [tuple(r) for r in json.loads(routes_file.read_text())],
               "port": port}
    finally:
        worker.stop()


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _url(pattern: str, tenant: str) -> str:
    """A concrete path for a route pattern: the tenant where it has one, a plausible id elsewhere."""
    path = pattern.replace("{tenant}", tenant)
    return re.sub(r"\{[^}]+\}", "x1", path)


def _call(base: str, method: str, path: str, headers: dict | None = None) -> httpx.Response:
    body = {"content": b"{}", "headers": {"Content-Type": "application/json", **(headers or {})}}
    return httpx.request("GET" if method == "*" else method, base + path, timeout=30, **body)


def test_every_served_route_but_the_probes_refuses_no_token_and_another_tenants_token(doors):
    base, a, routes = doors["base"], doors["a"], doors["routes"]
    patterns = {p for _, p in routes}
    # The enumeration is the live router: the probes are in it, the ops API no longer is.
    assert OPEN <= patterns and not any(p.startswith("/api/") for p in patterns), routes
    leaks = []
    for method, pattern in routes:
        path = _url(pattern, a)
        if pattern in OPEN:
            assert _call(base, method, path).status_code in (200, 503), pattern
            continue
        for who, headers in (("no token", {}), ("unknown token", _auth("nope")), ("b's token", _auth("b-token"))):
            status = _call(base, method, path, headers).status_code
            if status not in (401, 403):
                leaks.append((method, pattern, who, status))
        if "{tenant}" in pattern:       # the gate is not a wall: the tenant's own token gets past it
            assert _call(base, method, path, _auth("a-token")).status_code not in (401, 403), pattern
    assert not leaks, leaks


def test_faust_table_views_of_the_finding_are_not_served(doors):
    base, b = doors["base"], doors["b"]
    for path in (f"/table/ledgers/{b}:p1/", "/table/invoices/", "/table/tenants/", "/router/", "/graph/", "/",
                 "/stats/", "/assignment/"):
        for headers in ({}, _auth("b-token")):
            r = httpx.get(base + path, headers=headers, timeout=10)
            assert r.status_code in (401, 403, 404), (path, r.status_code, r.text[:200])
            assert b"ledger" not in r.content.lower() or r.status_code != 200
