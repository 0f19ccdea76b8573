"""Payload mapping (signs, tax, allocations, where escaping) and the test server's idempotency replay."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.model import DocumentKind
from connectors.xero_http import SlidingWindow, next_utc_midnight
from connectors.base import OutgoingDocument, allocation_plan
from connectors.xero_payload import XeroOptions, document_payload, where_equals
from tests.connectors import xero_workload as wl
from tests.connectors.xero_ledger import parse_where
from tests.connectors.xero_server import XeroTestServer
from tests.documents import factories


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=5))
def test_where_literals_round_trip_through_xeros_parser(names):
    assert parse_where(where_equals("Name", names)) == [("Name", n) for n in names]


def test_invoice_payload_carries_our_numbers_lines_and_tax():
    inv = wl.invoices(3)[2]
    payload = document_payload(inv, "contact-1", XeroOptions(account_code="260", taxable_tax_type="TAX001"))
    assert payload["Type"] == "ACCREC" and payload["Status"] == "AUTHORISED"
    assert (payload["InvoiceNumber"], payload["Reference"], payload["CurrencyCode"]) == (inv.number, "PO-7788", "USD")
    assert (payload["Date"], payload["DueDate"]) == ("2026-03-17", "2026-04-16")
    items = payload["LineItems"]
    assert [i["AccountCode"] for i in items] == ["260"] * len(inv.lines)
    assert [i["TaxType"] for i in items] == ["TAX001" if ln.taxable else "NONE" for ln in inv.lines]
    assert sum(Decimal(str(i["TaxAmount"])) for i in items) == inv.tax
    assert [Decimal(str(i["LineAmount"])) for i in items] == [ln.amount for ln in inv.lines]


def test_credit_note_amounts_are_positive_and_allocations_follow_the_lines():
    original, other = wl.invoices(2)
    credit = wl.credit_memo_for(original, 1)
    assert credit.total < 0
    payload = document_payload(credit, "contact-1", XeroOptions())
    assert payload["Type"] == "ACCRECCREDIT" and payload["CreditNoteNumber"] == credit.number
    assert all(i["LineAmount"] > 0 and i["Quantity"] > 0 and i["UnitAmount"] > 0 for i in payload["LineItems"])
    assert allocation_plan(OutgoingDocument(credit, credited_external_ids=("X-1",))) == [("X-1", -credit.total)]
    second = dataclasses.replace(wl.credit_memo_for(other, 2).lines[0], line_id="CL-b")
    both = dataclasses.replace(credit, lines=credit.lines + (second,), tax=Decimal("0.00"),
                               subtotal=credit.lines[0].amount + second.amount,
                               total=credit.lines[0].amount + second.amount)
    assert allocation_plan(OutgoingDocument(both, credited_external_ids=("X-1", "X-2"))) == [
        ("X-1", -credit.lines[0].amount), ("X-2", -second.amount)]
    assert allocation_plan(OutgoingDocument(both)) == []
    assert both.kind is DocumentKind.CREDIT_MEMO


def test_sliding_window_counts_in_flight_and_server_remaining():
    now = [100.0]
    window = SlidingWindow(3, 60.0, clock=lambda: now[0])
    window._in_flight = 1
    window.release()
    window.observe_remaining(0)            # another client used the rest of this minute's quota
    assert len(window._stamps) == 3
    now[0] += 60.0
    window._prune(now[0])
    assert not window._stamps


def test_next_utc_midnight():
    import datetime as dt
    assert next_utc_midnight(dt.datetime(2026, 12, 31, 23, 59, tzinfo=dt.UTC)) == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)


def test_server_replays_a_write_for_the_same_idempotency_key():
    with XeroTestServer() as server:
        token = httpx.post(server.token_url, data={"grant_type": "refresh_token",
                                                   "refresh_token": server.issue_grant("org-i")}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": "org-i", "Idempotency-Key": "k-1"}
        url = server.base_url + "/api.xro/2.0/Contacts"
        first = httpx.put(url, headers=headers, json={"Contacts": [{"Name": "Globex"}]})
        again = httpx.put(url, headers=headers, json={"Contacts": [{"Name": "Globex"}]})
        other = httpx.put(url, headers={**headers, "Idempotency-Key": "k-2"}, json={"Contacts": [{"Name": "Globex"}]})
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        assert other.status_code == 400 and "already assigned" in other.text
        assert len(server.book("org-i").contacts) == 1
        assert [r["replayed"] for r in server.api_requests("org-i")] == [False, True, False]
        refused = httpx.post(server.token_url, data={"grant_type": "refresh_token", "refresh_token": "stale"})
        assert (refused.status_code, refused.json()) == (400, {"error": "invalid_grant"})
