"""Every operation of the ops API against the OpenAPI document FastAPI derives from its routes and
models (schemathesis, in process, on a read model filled by the real projection): answers match
their declared schemas, and no input makes a 500."""
from __future__ import annotations

import pytest

from tests.api.conftest import auth

ROOT = auth("root-token")


def test_the_api_conforms_to_its_openapi_document(api):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    _, bus, app = api
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=ROOT)
    tested = []
    for result in schema.get_all_operations():
        operation = result.ok()
        tested.append(operation.path)
        if operation.path == "/readyz":     # 503 without a broker here: a server error by design (test_reads)
            continue

        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=operation.as_strategy())
        def check(case):
            if "{tenant}" in operation.path:
                case.path_parameters = {**(case.path_parameters or {}), "tenant": "ta"}
            case.call_and_validate(headers=ROOT)

        check()
    # 3 probes, 8 reads, 7 commands
    assert len(tested) == 18, tested


@pytest.mark.parametrize("name,body,field", [("generate", {"first_number": 0}, "first_number"),
                                             ("snooze", {"pay_line_id": "not-a-pay-line"}, "pay_line_id"),
                                             ("generate", {"as_of": "not a date"}, "as_of"),
                                             ("send", {"invoice_ids": ["inv-a"], "surprise": 1}, "surprise")])
def test_bad_bodies_are_422_naming_the_field(api, name, body, field):
    client, bus, _ = api
    r = client.post(f"/api/v1/tenants/ta/commands/{name}", json=body, headers=auth("a-token"))
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert bus.published == []


def test_malformed_json_and_a_bad_wait_are_400(api):
    client, bus, _ = api
    r = client.post("/api/v1/tenants/ta/commands/record", content=b"{not json", headers={
        **auth("a-token"), "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["field"] == "body", r.text
    r = client.post("/api/v1/tenants/ta/commands/generate?wait=soon", json={}, headers=auth("a-token"))
    assert r.status_code == 400 and r.json()["field"] == "wait", r.text
    r = client.post("/api/v1/tenants/ta/commands/resync", json={}, headers=auth("a-token"))
    assert r.status_code == 422 and "invoice_id" in r.json()["error"], r.text
    assert bus.published == []
