"""Screens in-process (the browser test covers the rest): mass Record & Present from the list,
Consolidate's two steps, what is left to credit on a line, Invoice Setup's preview from the
domain's calendar, and the money and date formats."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from starlette.testclient import TestClient

from console.app import create_app
from console.web import local, money, qty
from readmodel import models as m
from tests.console.seed import NOW, PASSWORD, Recorder, console_settings, seed_read_model, tenant_rows
from tests.console.test_routes import login

A = tenant_rows("agency-a", "1001", "Alpha Widgets Inc", "plc-alpha-7")


@pytest.fixture
def alice(tmp_path):
    engine = seed_read_model(f"sqlite:///{tmp_path / 'rm.sqlite3'}", A)
    recorder = Recorder(engine)
    app = create_app(console_settings(tmp_path, {}), publish=recorder)
    app.state.console.store.add_user("agency-a", "alice", PASSWORD, "admin")
    return login(app, "agency-a", "alice"), recorder, engine


def test_mass_record_with_a_template_names_each_invoice(alice):
    client, recorder, _ = alice
    page = client.get("/invoices", params={"status": "NEW"})
    assert 'value="1001"' in page.text and "standard_invoice" in page.text
    done = client.post("/invoices", data={"csrf": client.csrf, "action": "record", "number": ["1001"],
                                          "template": "standard_invoice"})
    assert "Record &amp; Present 1001: done" in done.text
    assert [(r["command"], r["invoice_id"], r["template"]) for r in recorder.records] == [
        ("RECORD", A["ids"]["invoice_id"], "standard_invoice")]
    unknown = client.post("/invoices", data={"csrf": client.csrf, "action": "send", "number": ["1001", "77"]})
    assert unknown.status_code == 404 and "77" in unknown.text and len(recorder.records) == 1


def test_consolidate_offers_the_accounts_new_invoices_then_adds_the_lines(alice):
    client, recorder, _ = alice
    ids = A["ids"]
    choice = client.post("/lines/consolidate", data={"csrf": client.csrf, "pay_line_id": [ids["pending_short"]]})
    assert 'value="1001"' in choice.text and 'value="new"' in choice.text
    done = client.post("/lines/consolidate", data={"csrf": client.csrf, "pay_line_id": [ids["pending_short"]],
                                                   "invoice": "1001"})
    assert "Consolidate into 1001: done" in done.text
    (r,) = recorder.records
    assert (r["command"], r["invoice_id"], r["pay_line_ids"], r["account_id"]) == (
        "CONSOLIDATE", ids["invoice_id"], [ids["pending"]], ids["account"])


def test_credit_memo_shows_what_is_left_and_refuses_more(alice):
    client, recorder, engine = alice
    ids = A["ids"]
    with engine.begin() as c:       # an earlier credit of 250.00 against the line
        c.execute(m.pay_lines.insert().values(
            pay_line_id=f"agency-a:{ids['placement']}|CREDIT|c1", tenant_id="agency-a", version=1,
            last_change="CREATED", changed_at=NOW, status="PENDING", placement_id=ids["placement"],
            source="CREDIT", category="TIMESHEETS", description="Credit", quantity=Decimal(1), rate=Decimal("-250"),
            amount=Decimal("-250.00"), taxable=True, effective_date=NOW.date(), work_date=NOW.date(),
            credited_line_id=ids["line"], credited_invoice_id=ids["invoice_id"]))
    form = client.get("/credit-memo", params={"line": ids["line_short"]})
    assert 'id="remaining">$750.00<' in form.text
    too_much = client.post("/credit-memo", data={"csrf": client.csrf, "line": ids["line_short"], "amount": "750.01",
                                                 "reason": "falloff"})
    assert too_much.status_code == 400 and "At most 750.00 is left" in too_much.text and recorder.records == []
    done = client.post("/credit-memo", data={"csrf": client.csrf, "line": ids["line_short"], "amount": "750.00",
                                             "reason": "falloff"})
    assert "Create Credit Memo: done" in done.text
    (r,) = recorder.records
    assert (r["placement_id"], r["amount"], r["pay_line_id"], r["invoice_id"]) == (
        ids["placement"], Decimal("750.00"), ids["line"], ids["invoice_id"])


def test_setup_preview_follows_the_domains_calendar(alice):
    client, recorder, _ = alice
    answer = client.post("/setup", data={"csrf": client.csrf, "action": "preview", "time_zone": "Asia/Tokyo",
                                         "week_ending_day": "FRIDAY", "invoice_delay_days": "3",
                                         "preferred_start_time": "08:15", "cycles": ["WEEKLY"]})
    assert answer.status_code == 200 and recorder.records == []
    import re
    runs = re.findall(r"<td>(\w+) (\d{4}-\d\d-\d\d) (\d\d:\d\d) (\w+)</td>", answer.text)
    assert len(runs) == 3 and all(r[0] == "Monday" and r[2:] == ("08:15", "JST") for r in runs), runs  # Friday + 3
    assert all(dt.date.fromisoformat(r[1]).weekday() == 0 for r in runs)
    bad = client.post("/setup", data={"csrf": client.csrf, "action": "save", "time_zone": "Mars/Olympus",
                                      "week_ending_day": "FRIDAY", "invoice_delay_days": "3",
                                      "preferred_start_time": "08:15", "cycles": ["WEEKLY"]})
    assert bad.status_code == 400 and "is not an IANA zone" in bad.text and recorder.records == []


def test_formats():
    assert money(Decimal("1234.5"), "USD") == "$1,234.50" and money(Decimal("-50"), "EUR") == "-€50.00"
    assert money(Decimal("7"), "CHF") == "CHF 7.00" and qty(Decimal("4E+1")) == "40" and qty(Decimal("2.50")) == "2.5"
    at = dt.datetime(2026, 7, 1, 16, 30, tzinfo=dt.timezone.utc)
    assert local(at, "America/New_York") == "2026-07-01 12:30 EDT" and local(dt.date(2026, 7, 1), "UTC") == "2026-07-01"


def test_login_attempts_are_throttled_per_user_and_per_address(tmp_path):
    from console.throttle import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(clock=lambda: now[0])
    user, address = ("user", "agency-a", "alice"), ("address", "10.0.0.1")
    for _ in range(5):
        assert throttle.wait_seconds(user, address) == 0
        throttle.failed(user, address)
    assert throttle.wait_seconds(user, address) == 15 * 60                  # the 6th try waits the window
    assert throttle.wait_seconds(("user", "agency-a", "bob"), address) == 0  # the address allows 20
    now[0] = 15 * 60 + 1
    assert throttle.wait_seconds(user, address) == 0

    engine = seed_read_model(f"sqlite:///{tmp_path / 'rm.sqlite3'}", A)
    app = create_app(console_settings(tmp_path, {}), publish=Recorder(engine))
    app.state.console.store.add_user("agency-a", "alice", PASSWORD, "admin")
    client = TestClient(app, follow_redirects=False)
    import re
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    tries = [client.post("/login", data={"csrf": csrf, "tenant": "agency-a", "username": "alice",
                                         "password": f"guess number {i}"}).status_code for i in range(5)]
    right = client.post("/login", data={"csrf": csrf, "tenant": "agency-a", "username": "alice", "password": PASSWORD})
    assert tries == [401] * 5 and right.status_code == 429 and "Too many failed attempts" in right.text


def test_operations_shows_each_systems_sync_status_and_how_to_reconnect(alice):
    client, _, engine = alice
    with engine.begin() as c:
        for i, (system, status, error) in enumerate([("xero", "SYNCED", None), ("xero", "NEEDS_REAUTH", "token expired"),
                                                     ("quickbooks", "FAILED", "429 too many requests")]):
            c.execute(m.sync_status.insert().values(invoice_id=f"inv-{i}", system=system, tenant_id="agency-a",
                                                    status=status, error=error, attempts=1, occurred_at=NOW))
        c.execute(m.sync_status.insert().values(invoice_id="other", system="xero", tenant_id="agency-z",
                                                status="FAILED", error="agency z's secret", attempts=1, occurred_at=NOW))
    page = client.get("/operations").text
    table = page.split('id="systems"', 1)[1].split("</table>", 1)[0]
    assert "Needs reauth: 1, Synced: 1" in table and "token expired" in table and "429 too many requests" in table
    assert "backoffice connect xero --tenant agency-a" in table and "agency z" not in page


def test_what_the_ats_sent_is_escaped_not_run(alice):
    client, _, engine = alice
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with engine.begin() as c:
        c.execute(m.invoices.update().values(account_name=hostile))
        c.execute(m.pay_lines.update().values(description=hostile))
    for path in ("/invoices", f"/invoices/{A['ids']['number']}", "/lines", "/batches"):
        page = client.get(path).text
        assert "<script" not in page and "<img src=x" not in page, path
    assert "&lt;script&gt;" in client.get("/invoices").text
