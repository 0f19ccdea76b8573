"""The clerk's reads (readmodel.queries) on SQLite and a real PostgreSQL, from rows readmodel.rows builds out of real
encoded events; the expected answers are computed from the events themselves in plain Python."""
import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

import pytest

from backoffice import ledger as L
from readmodel import queries as q
from readmodel.db import engine_for, migrate
from readmodel.rows import Message, build
from readmodel.store import store
from schemas.codec import decode, encode
from schemas.topics import BILLING_INVOICES, BILLING_OUTCOMES, BILLING_PAYLINES
from tests.domain.factories import T, WEEK_END, fee, placement, timesheet
from tests.readmodel.test_rows import invoice_record
from workers.ledger_logic import LedgerRecord
from workers.paylines_logic import changes, stamped

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.timezone.utc)


def _paylines(tenant: str, pid: str, company: str) -> list[dict]:
    """Timesheet lines (one re-rated) and a fee: events the ledger's hook would send."""
    led = L.apply_placement(L.empty_ledger(T, pid), placement(pid)).ledger
    led = L.apply_fee(led, fee(f"f-{pid}", pid, effective=WEEK_END - dt.timedelta(days=3)), WEEK_END).ledger
    first = LedgerRecord(L.apply_timesheet(led, timesheet(f"ts-{pid}", pid, ot="4"), WEEK_END).ledger)
    v1 = changes(None, first, AT)
    second = stamped(first, v1)
    rerated = L.apply_timesheet(second.ledger, timesheet(f"ts-{pid}", pid, version=2, reg="10"), WEEK_END).ledger
    events = v1 + changes(second, LedgerRecord(rerated, line_versions=second.line_versions), AT)
    return [{**e, "tenant_id": tenant, "account_id": company,          # the factories' tenant is fixed
             "pay_line_id": tenant + e["pay_line_id"].removeprefix(T)} for e in events]


def _invoice(tenant, invoice_id, number, batch, status="NEW", account=("ACC-1", "Globex Corporation"), **over):
    return invoice_record(event_id=f"ev-{invoice_id}-{status}", tenant_id=tenant, invoice_id=invoice_id,
                          number=number, batch_id=batch, status=status,
                          event_type={"NEW": "GENERATED", "RECORDED": "RECORDED", "SENT": "SENT"}[status],
                          account_id=account[0], account_name=account[1], **over)


@pytest.fixture
def world(db_url):
    events = {
        BILLING_PAYLINES: (_paylines("t1", "p1", "ACC-1") + _paylines("t1", "p2", "ACC-2")
                           + _paylines("t2", "p1", "ACC-1")),
        BILLING_INVOICES: [
            _invoice("t1", "inv-a", "114", "B-1"), _invoice("t1", "inv-a", "114", "B-1", status="RECORDED"),
            _invoice("t1", "inv-b", "115", "B-1", account=("ACC-2", "Initech")),
            _invoice("t2", "inv-c", "114", "B-9"),                     # same number, other tenant
            _invoice("t2", "inv-d", "200", "B-9", kind="CREDIT_MEMO"),
            _invoice("t2", "inv-e", "200", "B-9"),                     # a memo and an invoice share a number
        ],
        BILLING_OUTCOMES: [],
    }
    messages = [Message(topic, 0, i, b"k", encode(schema, e)) for topic, schema in (
        (BILLING_PAYLINES, "PayLineEvent"), (BILLING_INVOICES, "InvoiceEvent"))
        for i, e in enumerate(events[topic])]
    engine = engine_for(db_url)
    migrate(engine)
    store(engine, "g", {}, build(messages[:5], AT))          # two transactions, like the projector's
    store(engine, "g", {(BILLING_PAYLINES, 0): 5}, build(messages[5:], AT))
    yield engine, events
    engine.dispose()


def _newest_lines(events) -> dict[str, dict]:
    newest = {}
    for e in events[BILLING_PAYLINES]:
        if e["version"] > newest.get(e["pay_line_id"], {}).get("version", 0):
            newest[e["pay_line_id"]] = e
    return newest


def test_pending_per_account_split_timesheets_and_products_services(world):
    engine, events = world
    expected = defaultdict(lambda: [0, Decimal(0)])
    for e in _newest_lines(events).values():
        if e["status"] == "PENDING" and e["window_key"] is None:
            expected[(e["tenant_id"], e["account_id"], e["category"])][0] += 1
            expected[(e["tenant_id"], e["account_id"], e["category"])][1] += e["amount"]
    got = {}
    for p in q.batches(engine)["pending"]:
        for cat, part in (("TIMESHEETS", p["timesheets"]), ("PRODUCTS_SERVICES", p["products_services"])):
            if part["lines"]:
                got[(p["tenant_id"], p["account_id"], cat)] = [part["lines"], part["amount"]]
    assert got == dict(expected)
    assert {c for (_, _, c) in got} == {"TIMESHEETS", "PRODUCTS_SERVICES"}      # both halves are exercised
    t1 = q.batches(engine, "t1")
    assert {p["tenant_id"] for p in t1["pending"]} == {"t1"}
    assert next(p for p in t1["pending"] if p["account_id"] == "ACC-2")["account_name"] == "Initech"
    (batch,) = t1["batches"]
    assert batch["batch_id"] == "B-1" and sorted(i["number"] for i in batch["invoices"]) == ["114", "115"]
    assert batch["total"] == 2 * invoice_record()["total"]


def test_invoices_filter_by_status_account_name_batch_and_period(world):
    engine, events = world
    last = {}
    for e in events[BILLING_INVOICES]:
        last[e["invoice_id"]] = e
    assert {i["invoice_id"] for i in q.invoices(engine)} == set(last)
    assert [i["invoice_id"] for i in q.invoices(engine, "t1", status="recorded")] == ["inv-a"]
    assert [i["number"] for i in q.invoices(engine, "t1", account="Initech")] == ["115"]
    assert {i["invoice_id"] for i in q.invoices(engine, batch="B-9")} == {"inv-c", "inv-d", "inv-e"}
    assert len(q.invoices(engine, period=last["inv-a"]["period_end"].isoformat())) == len(last)
    assert q.invoices(engine, period="1999-01-01") == []


def test_an_invoice_by_number_within_its_tenant_with_lines_and_history(world):
    engine, _ = world
    d = q.invoice_detail(engine, "t1", "114")
    assert d["invoice_id"] == "inv-a" and d["status"] == "RECORDED"
    assert [h["event_type"] for h in d["history"]] == ["GENERATED", "RECORDED"]
    assert [x["pay_line_id"] for x in d["lines"]] == [x["pay_line_id"] for x in invoice_record()["lines"]]
    assert sum(x["amount"] for x in d["lines"]) == invoice_record()["subtotal"]
    assert q.invoice_detail(engine, "t2", "114")["invoice_id"] == "inv-c"
    assert q.resolve_invoice(engine, "t1", "inv-b") == "inv-b"            # an internal id still works
    with pytest.raises(q.LookupRefused, match="no invoice numbered 999"):
        q.resolve_invoice(engine, "t1", "999")
    with pytest.raises(q.LookupRefused, match="no invoice numbered inv-c"):
        q.resolve_invoice(engine, "t1", "inv-c")                           # another tenant's id
    with pytest.raises(q.LookupRefused, match="names 2 documents"):
        q.resolve_invoice(engine, "t2", "200")
    json.dumps(q.plain(d))                                                 # --json can print it


def test_lines_filters_and_short_ids(world):
    engine, events = world
    newest = _newest_lines(events)
    alive = {k for k, e in newest.items() if e["status"] != "REMOVED"}
    got = q.lines(engine)
    assert {x["pay_line_id"] for x in got} == alive
    assert len({x["short_id"] for x in got}) == len(got)
    assert {x["pay_line_id"] for x in q.lines(engine, status="removed")} == set(newest) - alive
    assert {x["pay_line_id"] for x in q.lines(engine, "t1", account="ACC-2")} == {
        k for k in alive if newest[k]["tenant_id"] == "t1" and newest[k]["account_id"] == "ACC-2"}
    assert q.lines(engine, placement_type="PERM") == [] and q.lines(engine, credit_memos=True) == []
    some = sorted(alive)[0]
    assert q.resolve_pay_line(engine, q.short_id(some)) == some == q.resolve_pay_line(engine, some)
    with pytest.raises(q.LookupRefused, match="no pay line has the short id 00000000"):
        q.resolve_pay_line(engine, "00000000")
    assert len(q.lines(engine, placement_type="temp")) == len(alive)


def test_a_projected_outcome_names_the_invoices_still_missing(world):
    engine, _ = world
    outcome = decode(encode("CommandOutcome", {
        "event_id": "o1", "tenant_id": "t1", "occurred_at": AT, "command_id": "c1", "command": "GENERATE",
        "ok": True, "message": "ok", "batch_id": "B-1", "invoice_ids": ["inv-a", "inv-zzz"], "findings": []})).record
    assert q.projected_outcome(engine, "c1") is None
    store(engine, "g", q.positions(engine, "g"),
          build([Message(BILLING_OUTCOMES, 0, 0, b"t1", encode("CommandOutcome", outcome))], AT))
    assert q.projected_outcome(engine, "c1")["missing_invoices"] == ["inv-zzz"]
    ends = {**q.positions(engine, "g"), (BILLING_OUTCOMES, 1): 3}
    assert q.behind(engine, "g", ends) == {(BILLING_OUTCOMES, 1): 3}
