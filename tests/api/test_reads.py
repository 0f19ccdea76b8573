"""The ops API's reads against a SQLite read model filled by the real projection: each answer is
checked against the events themselves (plain Python over the records), not against the queries."""
from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from schemas.topics import BILLING_INVOICES, BILLING_OUTCOMES, BILLING_PAYLINES
from tests.api.conftest import AT, auth, make_client, outcome, world


def _newest(events) -> dict[str, dict]:
    newest: dict[str, dict] = {}
    for e in events[BILLING_PAYLINES]:
        if e["version"] > newest.get(e["pay_line_id"], {}).get("version", 0):
            newest[e["pay_line_id"]] = e
    return newest


def _last_invoices(events, tenant) -> dict[str, dict]:
    return {r["invoice_id"]: r for r in events[BILLING_INVOICES] if r["tenant_id"] == tenant}


def test_list_batches_is_the_tenants_own_and_adds_up_to_the_events(api):
    client, _, _ = api
    events = world()
    got = client.get("/api/v1/tenants/ta/batches", headers=auth("a-token")).json()
    assert got["coverage"] == "complete" and got["tenant_id"] == "ta"
    docs = _last_invoices(events, "ta")
    per_category = defaultdict(Decimal)
    for d in docs.values():
        for line in d["lines"]:
            per_category[line["category"]] += line["amount"]
    (batch,) = got["batches"]
    assert batch["batch_id"] == "B-1"
    assert (batch["invoice_count"], batch["credit_memo_count"]) == (1, 1)
    assert (batch["first_number"], batch["last_number"]) == ("114", "115")
    assert Decimal(batch["amount_timesheets"]) == per_category["TIMESHEETS"]
    assert Decimal(batch["amount_products_services"]) == per_category["PRODUCTS_SERVICES"]
    assert batch["sync_status"] == {"NOT_SYNCED": 1, "SYNCED": 1}
    # pending: the newest version of each of ta's lines that is Pending and in no window, per account
    expected = defaultdict(lambda: [0, Decimal(0)])
    for line in _newest(events).values():
        if line["tenant_id"] == "ta" and line["status"] == "PENDING" and line["window_key"] is None:
            expected[(line["account_id"], line["category"])][0] += 1
            expected[(line["account_id"], line["category"])][1] += line["amount"]
    assert expected, "the world must have pending lines"
    shown = {}
    for a in got["pending"]["accounts"]:
        shown[(a["account_id"], "TIMESHEETS")] = Decimal(a["timesheets"])
        shown[(a["account_id"], "PRODUCTS_SERVICES")] = Decimal(a["products_services"])
    assert {k: v for k, v in shown.items() if v} == {k: v[1] for k, v in expected.items() if v[1]}
    assert got["pending"]["pay_lines"] == sum(n for n, _ in expected.values())
    assert Decimal(got["pending"]["timesheets"]) == sum(v[1] for k, v in expected.items() if k[1] == "TIMESHEETS")


def test_batch_invoices_and_invoice_detail_by_id_or_number_per_tenant(api):
    client, _, _ = api
    events = world()
    got = client.get("/api/v1/tenants/ta/batches/B-1/invoices", headers=auth("a-token")).json()
    assert {(i["invoice_id"], i["number"], i["kind"], i["status"], i["sync_status"]) for i in got["invoices"]} == {
        ("inv-a", "114", "INVOICE", "RECORDED", "SYNCED"), ("inv-b", "115", "CREDIT_MEMO", "NEW", None)}
    for ref in ("inv-a", "114"):
        d = client.get(f"/api/v1/tenants/ta/invoices/{ref}", headers=auth("a-token")).json()
        record = _last_invoices(events, "ta")["inv-a"]
        assert d["invoice_id"] == "inv-a" and d["status"] == "RECORDED" and d["total"] == str(record["total"])
        assert [x["amount"] for x in d["lines"]] == [str(x["amount"]) for x in record["lines"]]
        assert [h["status"] for h in d["history"]] == ["NEW", "RECORDED"]
        assert d["sync"]["status"] == "SYNCED" and d["sync"]["external_id"] == "X-1"
        assert d["document_uris"] == ["file:///d/inv-a.pdf"] and d["error"] is None
    # the same number in tenant tb names tb's own invoice
    assert client.get("/api/v1/tenants/tb/invoices/114", headers=auth("b-token")).json()["invoice_id"] == "inv-c"
    r = client.get("/api/v1/tenants/ta/invoices/999", headers=auth("a-token"))
    assert r.status_code == 404 and r.json()["field"] == "invoice_id"
    r = client.get("/api/v1/tenants/ta/invoices/bad%20id", headers=auth("a-token"))
    assert r.status_code == 400 and r.json()["field"] == "invoice_id"


def test_health_is_the_latest_health_check_the_worker_ran(api):
    client, _, _ = api
    got = client.get("/api/v1/tenants/ta/health", headers=auth("a-token")).json()
    assert got["ok"] and got["command_id"] == "g-1"
    assert [(f["severity"], f["code"]) for f in got["findings"]] == [("WARNING", "AP_CONTACT_NO_EMAIL")]
    got = client.get("/api/v1/tenants/tb/health", headers=auth("b-token")).json()
    assert got["ok"] and got["findings"] == [] and got["command_id"] == "close:tb:WEEKLY:2026-11-15"


def test_windows_closed_blocked_refused_and_scheduled(api):
    client, _, _ = api
    got = client.get("/api/v1/tenants/ta/windows", headers=auth("a-token")).json()
    rows = {w["window_id"]: w for w in got["windows"]}
    assert rows["WEEKLY:2026-11-08"]["status"] == "CLOSED" and rows["WEEKLY:2026-11-08"]["invoice_count"] == 2
    blocked = rows["WEEKLY:2026-11-15"]
    assert (blocked["status"], blocked["attempts"], blocked["errors"]) == ("BLOCKED", 2, 2)
    assert (blocked["since"], blocked["last_attempt"]) == ("2026-11-21T09:00:00+00:00", "2026-11-22T09:00:00+00:00")
    assert "NO_BILLTO x1" in blocked["reason"] and "MISSING_BILL_RATE x1" in blocked["reason"]
    assert rows["MONTHLY:2026-10-31"]["status"] == "REFUSED"
    scheduled = {k for k, w in rows.items() if w["status"] == "SCHEDULED"}
    # NOW is Wednesday 2026-11-25; defaults: weeks end on Sunday, run 2 days later at 13:00 UTC
    assert scheduled == {"WEEKLY:2026-11-29", "SEMI_MONTHLY:2026-11-30", "MONTHLY:2026-11-30"}, scheduled
    assert not any(k.startswith("WEEKLY:2026-11-22") for k in rows)
    # tb sees only its own
    got = client.get("/api/v1/tenants/tb/windows", headers=auth("b-token")).json()
    assert Counter(w["status"] for w in got["windows"])["CLOSED"] == 1


def test_a_tenant_with_its_own_invoice_setup_gets_no_default_schedule(tmp_path):
    events = world()
    events[BILLING_OUTCOMES].append(outcome("ta", "setup-1", "SET_INVOICE_SETUP", True, AT))
    client, _, app = make_client(tmp_path, events)
    got = client.get("/api/v1/tenants/ta/windows", headers=auth("a-token")).json()
    assert not [w for w in got["windows"] if w["status"] == "SCHEDULED"] and "own Invoice Setup" in got["scheduled"]
    app.state.engine.dispose()


def test_listings_invoices_lines_dead_letters_are_per_tenant(api):
    client, _, _ = api
    events = world()
    got = client.get("/api/v1/tenants/ta/invoices?status=RECORDED", headers=auth("a-token")).json()["items"]
    assert [i["invoice_id"] for i in got] == ["inv-a"]
    lines = client.get("/api/v1/tenants/ta/lines", headers=auth("a-token")).json()["items"]
    expected = {k for k, v in _newest(events).items() if v["tenant_id"] == "ta" and v["status"] != "REMOVED"}
    assert {x["pay_line_id"] for x in lines} == expected
    assert client.get("/api/v1/tenants/ta/dead-letters", headers=auth("a-token")).json()["items"] == []


def test_a_read_model_the_projector_never_created_is_a_503(tmp_path):
    import json

    from fastapi.testclient import TestClient

    from api.app import create_app
    from infra.settings import load_settings
    from readmodel.db import engine_for
    from tests.api.conftest import TOKENS

    app = create_app(load_settings(data_dir=tmp_path, ops_tokens=json.dumps(TOKENS)),
                     engine=engine_for(f"sqlite:///{tmp_path / 'empty.sqlite3'}"))
    r = TestClient(app).get("/api/v1/tenants/ta/batches", headers=auth("a-token"))
    assert r.status_code == 503 and "backoffice projector" in r.json()["error"]
    r = TestClient(app).get("/readyz")
    assert r.status_code == 503 and "empty" in r.json()["reasons"][0]
