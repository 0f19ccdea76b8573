"""Every door of a real worker's web server: each route it serves (read from its live router,
not a hand list) refuses a caller without a token and a caller with another tenant's token;
only /healthz, /readyz and /metrics are open. Then the API's edges: `.`/`..` tenants, large and
deeply nested bodies, and commands naming another tenant's invoice."""
from __future__ import annotations

import datetime as dt
import http.client
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
from tests.ops.test_api import api_worker_env
from tests.workers.harness import WorkerProcess, produce, wait_drained, wait_until
from tests.workers.test_pipeline import outcomes
from workers.names import ingest_topics

pytestmark = pytest.mark.integration
WEEK = dt.date(2026, 9, 6)
OPEN = {"/healthz", "/readyz", "/metrics"}
MAX_BODY = 256 * 1024          # 100k levels of [] (200 kB) fit: the depth check, not the size, refuses them


@pytest.fixture(scope="module")
def doors(kafka_bootstrap, tmp_path_factory):
    """One worker with two tenants: `a` has nothing, `b` has one invoice (generated here)."""
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
                           extra_env={**api_worker_env(tokens, data), "BACKOFFICE_API_MAX_BODY_BYTES": str(MAX_BODY)}
                           ).start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 120, message="readyz")
        wait_drained(kafka_bootstrap, app_id, ingest_topics(app_id))
        wait_until(routes_file.exists, 30, message="the worker's route list")
        yield {"base": base, "a": a, "b": b, "routes": [tuple(r) for r in json.loads(routes_file.read_text())],
               "port": port, "bootstrap": kafka_bootstrap}
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
    # The enumeration is the live router: the API and the probes are in it.
    assert OPEN <= patterns and "/api/v1/tenants/{tenant}/batches" in patterns, routes
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


def _raw(port: int, method: str, path: str, token: str, body: bytes = b"") -> int:
    """An HTTP request sent as written (httpx would resolve `..` before sending)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body or None, headers={"Authorization": f"Bearer {token}",
                                                               "Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("tenant", ["..", ".", "%2E%2E", "%2e", "...", ".hidden"])
def test_dot_tenants_are_refused(doors, tenant):
    port = doors["port"]
    assert _raw(port, "GET", f"/api/v1/tenants/{tenant}/batches", "root-token") == 400
    assert _raw(port, "GET", f"/api/v1/tenants/{tenant}/health", "root-token") == 400
    assert _raw(port, "POST", f"/api/v1/tenants/{tenant}/commands/generate", "root-token", b"{}") == 400


def test_a_body_over_the_limit_is_413_with_or_without_a_length(doors):
    base, a = doors["base"], doors["a"]
    url = f"{base}/api/v1/tenants/{a}/commands/record"
    big = json.dumps({"invoice_ids": ["x" * 10] * (MAX_BODY // 8)}).encode()
    assert len(big) > MAX_BODY
    r = httpx.post(url, content=big, headers={**_auth("a-token"), "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413 and r.json()["field"] == "body", r.text[:300]

    def chunks():
        for i in range(0, len(big), 4096):
            yield big[i:i + 4096]
    r = httpx.post(url, content=chunks(), headers={**_auth("a-token"), "Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 413 and r.json()["field"] == "body", r.text[:300]


@pytest.mark.parametrize("levels", [50_000, 100_000])
def test_deeply_nested_json_is_a_400_not_a_500(doors, levels):
    base, a = doors["base"], doors["a"]
    for body in ("[" * levels + "]" * levels, '{"invoice_ids": ' + "[" * levels + "]" * levels + "}"):
        r = httpx.post(f"{base}/api/v1/tenants/{a}/commands/record", content=body.encode(),
                       headers={**_auth("a-token"), "Content-Type": "application/json"}, timeout=30)
        assert r.status_code == 400 and r.json()["field"] == "body", (r.status_code, r.text[:300])
    # Shallow brackets inside strings are data, not nesting.
    r = httpx.post(f"{base}/api/v1/tenants/{a}/commands/record", json={"invoice_ids": ["[" * 200]},
                   headers=_auth("a-token"), timeout=30)
    assert r.status_code in (404, 422), r.text[:300]


def test_a_command_naming_another_tenants_invoice_is_404_at_once(doors):
    base, a, b, bootstrap = doors["base"], doors["a"], doors["b"], doors["bootstrap"]
    r = httpx.post(f"{base}/api/v1/tenants/{b}/commands/generate?wait=30", json={"as_of": "2026-09-10"},
                   headers=_auth("b-token"), timeout=90)
    assert r.status_code == 202, r.text
    (command_id, outcome), = r.json()["outcomes"].items()
    if outcome is None:
        outcome = wait_until(lambda: outcomes(bootstrap, {command_id}).get(command_id), 120, message="outcome")
    assert outcome["ok"] and len(outcome["invoice_ids"]) == 1, outcome
    invoice_id = outcome["invoice_ids"][0]
    wait_until(lambda: httpx.get(f"{base}/api/v1/tenants/{b}/invoices/{invoice_id}", headers=_auth("b-token"))
               .status_code == 200, 60, message="b's invoice readable")
    batch_id = httpx.get(f"{base}/api/v1/tenants/{b}/batches", headers=_auth("b-token")).json()["batches"][0]["batch_id"]

    for token in ("a-token", "root-token"):      # even an operator: the path says tenant a
        for name, body in (("send", {"invoice_ids": [invoice_id]}), ("record", {"invoice_ids": [invoice_id]}),
                           ("resync", {"invoice_id": invoice_id}), ("resync", {"batch_id": batch_id})):
            r = httpx.post(f"{base}/api/v1/tenants/{a}/commands/{name}", json=body, headers=_auth(token), timeout=30)
            assert r.status_code == 404, (token, name, r.status_code, r.text)
            assert r.json()["field"] in ("invoice_id", "batch_id")
        # a read of the same id answers the same way
        assert httpx.get(f"{base}/api/v1/tenants/{a}/invoices/{invoice_id}", headers=_auth(token)).status_code == 404
    r = httpx.post(f"{base}/api/v1/tenants/{a}/commands/send", json={"invoice_ids": ["no-such-invoice"]},
                   headers=_auth("a-token"), timeout=30)
    assert r.status_code == 404 and r.json()["field"] == "invoice_id"
    # the owner's own command still goes through
    r = httpx.post(f"{base}/api/v1/tenants/{b}/commands/resync", json={"invoice_id": invoice_id},
                   headers=_auth("b-token"), timeout=30)
    assert r.status_code == 202, r.text
