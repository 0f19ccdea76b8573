"""Every door of the ops API (api/doors.py): each route the app serves, enumerated from app.routes
(not a hand list, so a route added later is checked too), refuses a caller without a token, with an
unknown one and with another tenant's; only /healthz, /readyz and /metrics are open. Then the edges
of issue 12: `.`/`..` tenants, large and deeply nested bodies, and ids of another tenant at the
door for commands as for reads."""
from __future__ import annotations

import asyncio
import json
import re

import pytest

from tests.api.conftest import auth

OPEN = {"/healthz", "/readyz", "/metrics"}


def _served(app) -> list[tuple[str, str]]:
    routes = []
    for route in app.routes:
        for method in sorted(getattr(route, "methods", None) or ()):
            routes.append((method, route.path))
    return routes


def _url(pattern: str, tenant: str) -> str:
    return re.sub(r"\{[^}]+\}", "x1", pattern.replace("{tenant}", tenant))


def test_every_route_but_the_probes_refuses_no_token_an_unknown_one_and_another_tenants(api):
    client, bus, app = api
    routes = _served(app)
    patterns = {p for _, p in routes}
    assert OPEN <= patterns and "/api/v1/tenants/{tenant}/batches" in patterns and "/openapi.json" in patterns
    assert sum(p.startswith("/api/v1/tenants/{tenant}/commands/") for p in patterns) == 7
    leaks = []
    for method, pattern in routes:
        path = _url(pattern, "ta")
        if pattern in OPEN:
            continue
        for who, headers in (("no token", {}), ("unknown token", auth("nope")), ("b's token", auth("b-token")),
                             ("bearer without token", {"Authorization": "Bearer "})):
            status = client.request(method, path, content=b"{}", headers={"Content-Type": "application/json",
                                                                           **headers}).status_code
            if status not in (401, 403):
                leaks.append((method, pattern, who, status))
    assert not leaks, leaks
    assert bus.published == []                 # nothing refused was published
    for method, pattern in routes:             # the door is not a wall: a's own token gets past it
        if "{tenant}" in pattern:
            status = client.request(method, _url(pattern, "ta"), content=b"{}", headers={
                "Content-Type": "application/json", **auth("a-token")}).status_code
            assert status not in (401, 403), (method, pattern, status)


def test_a_route_added_later_is_behind_the_door_too(api):
    client, _, app = api

    @app.get("/api/v1/tenants/{tenant}/brand-new")
    def brand_new(tenant: str) -> dict:
        return {"secret": tenant}

    @app.get("/debug/everything")
    def everything() -> dict:
        return {"secret": "all"}
    assert client.get("/api/v1/tenants/ta/brand-new").status_code == 401
    assert client.get("/api/v1/tenants/ta/brand-new", headers=auth("b-token")).status_code == 403
    assert client.get("/api/v1/tenants/ta/brand-new", headers=auth("a-token")).json() == {"secret": "ta"}
    assert client.get("/debug/everything", headers=auth("a-token")).status_code == 403     # operators only
    assert client.get("/debug/everything", headers=auth("root-token")).status_code == 200


def test_the_probes_are_open_and_the_openapi_document_is_derived_from_the_routes(api):
    client, _, app = api
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    doc = client.get("/openapi.json", headers=auth("root-token")).json()
    served = {p for _, p in _served(app) if p.startswith("/api/") or p in OPEN}
    assert served == set(doc["paths"]), served ^ set(doc["paths"])
    body = doc["paths"]["/api/v1/tenants/{tenant}/commands/generate"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"]["$ref"].endswith("/GenerateBody")
    assert doc["paths"]["/api/v1/tenants/{tenant}/batches"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in doc["paths"]["/healthz"]["get"]


def _raw(app, method: str, path: str, token: str, body: bytes = b"") -> int:
    """An ASGI request with the path exactly as written (an HTTP client would resolve `..`)."""
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


@pytest.mark.parametrize("tenant", ["..", ".", "...", ".hidden"])
def test_dot_tenants_are_refused(api, tenant):
    _, bus, app = api
    for method, path in (("GET", f"/api/v1/tenants/{tenant}/batches"), ("GET", f"/api/v1/tenants/{tenant}/health"),
                         ("POST", f"/api/v1/tenants/{tenant}/commands/generate")):
        assert _raw(app, method, path, "root-token", b"{}") == 400, path
    assert bus.published == []


def test_a_body_over_the_limit_is_413_with_or_without_a_length(tmp_path):
    from tests.api.conftest import make_client, world

    client, bus, _ = make_client(tmp_path, world(), api_max_body_bytes=4096)
    big = json.dumps({"invoice_ids": ["x" * 10] * 1000}).encode()
    url = "/api/v1/tenants/ta/commands/record"
    r = client.post(url, content=big, headers={**auth("a-token"), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body", r.text

    def chunks():
        for i in range(0, len(big), 512):
            yield big[i:i + 512]
    r = client.post(url, content=chunks(), headers={**auth("a-token"), "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["field"] == "body", r.text
    assert bus.published == []


@pytest.mark.parametrize("levels", [50_000, 100_000])
def test_deeply_nested_json_is_a_400_not_a_500(api, levels):
    client, bus, _ = api
    for body in ("[" * levels + "]" * levels, '{"invoice_ids": ' + "[" * levels + "]" * levels + "}"):
        r = client.post("/api/v1/tenants/ta/commands/record", content=body.encode(),
                        headers={**auth("a-token"), "Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["field"] == "body", (r.status_code, r.text[:300])
    r = client.post("/api/v1/tenants/ta/commands/record", json={"invoice_ids": ["[" * 200]}, headers=auth("a-token"))
    assert r.status_code in (404, 422), r.text[:300]       # brackets inside strings are data
    assert bus.published == []


def test_a_command_naming_another_tenants_invoice_or_batch_is_404_at_once(api):
    client, bus, _ = api
    for token in ("a-token", "root-token"):           # even an operator: the path says tenant ta
        for name, body, field in (("send", {"invoice_ids": ["inv-c"]}, "invoice_id"),
                                  ("record", {"invoice_ids": ["inv-c"]}, "invoice_id"),
                                  ("resync", {"invoice_id": "inv-c"}, "invoice_id"),
                                  ("resync", {"batch_id": "B-9"}, "batch_id"),
                                  ("send", {"invoice_ids": ["no-such-invoice"]}, "invoice_id"),
                                  ("snooze", {"pay_line_id": "tb:p1|ts|x"}, "pay_line_id")):
            r = client.post(f"/api/v1/tenants/ta/commands/{name}", json=body, headers=auth(token))
            assert r.status_code == 404 and r.json()["field"] == field, (token, name, r.status_code, r.text)
        assert client.get("/api/v1/tenants/ta/invoices/inv-c", headers=auth(token)).status_code == 404
        assert client.get("/api/v1/tenants/ta/batches/B-9/invoices", headers=auth(token)).status_code == 404
    assert bus.published == []
    # the owner's own command goes through, by id or by number
    r = client.post("/api/v1/tenants/tb/commands/resync", json={"invoice_id": "114"}, headers=auth("b-token"))
    assert r.status_code == 202, r.text
    assert [(p["tenant_id"], p["command"], p["invoice_id"]) for p in bus.published] == [("tb", "RESYNC", "inv-c")]
    assert r.json()["command_ids"] == [bus.published[0]["command_id"]]
