"""One hand-built value per state schema, with the awkward parts in it (Decimals whose exponent
matters, -0, an empty string, non-ASCII, NUL, None next to set values, maps with non-string keys,
nested optionals, frozensets, bytes). tests/workers/make_state_fixtures.py wrote the committed
v1 fixtures from these; tests/workers/test_state_codec.py checks that those bytes still load
into these same values."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backoffice.billto import BilltoHierarchy
from backoffice.ledger import PlacementLedger
from backoffice.model import (
    Address, Batch, BatchOption, BillingCycle, BilltoNode, Contact, CreditAllocation, CreditMemoRequest, DocumentKind,
    DocumentStatus, EntityType, FeeKind, Invoice, InvoiceLine, InvoicingMode, LineCategory, LineItemStatus, PayCode,
    PayLine, PayLineSource, PayLineStatus, Placement, PlacementStatus, PlacementType,
)
from backoffice.numbering import TenantSequence

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 9, 7, 8, 30, 15, 123456, tzinfo=UTC)
WEEK = dt.date(2026, 9, 6)


def node() -> BilltoNode:
    return BilltoNode("t1", EntityType.CLIENT, "c1", parent_id="co1", account_name="Ünïcode & Co \u2014 \x00",
                      ap_contact=Contact("AP", "ap@example.com", None), address=Address("1 Main St", "", "Zürich"),
                      invoicing_mode=InvoicingMode.AUTOMATIC, net_terms_days=45, tax_rate=Decimal("0.0825"),
                      default_template=None, currency="CHF", version=7)


def placement() -> Placement:
    return Placement("t1", "p1", PlacementType.TEMP, "Ada Lovelace", "co1", "c1", None,
                     batch_option=BatchOption.PURCHASE_ORDER, purchase_order="PO-1", ap_contact_override=None,
                     billing_cycle=BillingCycle.SEMI_MONTHLY,
                     bill_rates=((PayCode.REG, Decimal("31.50")), (PayCode.OT, Decimal("47.250"))),
                     start_date=dt.date(2026, 1, 5), end_date=None, status=PlacementStatus.ACTIVE, version=3,
                     job_title="")


def line(n: int = 1, status: PayLineStatus = PayLineStatus.PENDING) -> PayLine:
    return PayLine("t1", f"t1:p1|TS|ts{n}|REG", "p1", PayLineSource.TIMESHEET, "Regular hours", Decimal("40.00"),
                   Decimal("31.50"), Decimal("1260.0000"), WEEK, WEEK, taxable=True, status=status,
                   pay_code=PayCode.REG, timesheet_id=f"ts{n}", timesheet_version=2, work_start=WEEK - dt.timedelta(6))


def credit_line() -> PayLine:
    return PayLine("t1", "t1:p1|CR|cr1", "p1", PayLineSource.CREDIT, "", Decimal("-1"), Decimal("-0"),
                   Decimal("-12.5E+2"), WEEK, WEEK, taxable=False, status=PayLineStatus.SNOOZED,
                   fee_kind=FeeKind.SERVICE, credited_line_id="l9", credited_invoice_id="inv-0", reason="goodwill")


def ledger_record():
    from workers.ledger_logic import LedgerRecord, Parked

    led = PlacementLedger("t1", "p1", placement(), {x.pay_line_id: x for x in (line(1), line(2), credit_line())},
                          {"ts1": 2, "ts2": 1, "cr1": 1})
    return LedgerRecord(led, (Parked("ats.timesheets", 3, 42, None, b"\x00\x01raw", T0),
                              Parked("ats.fees", 0, 0, b"t1:p9", b"", T0)),
                        {line(1).pay_line_id: "WEEKLY:2026-09-06"}, frozenset({"cmd-1", "cmd-2"}),
                        {"ts1": b"\xc3\x01avro", "ts2": b""}, {"ts1": b"12345678"},
                        line_versions={line(1).pay_line_id: 3, line(2).pay_line_id: 1})


def request():
    from workers.messages import WindowRequest

    return WindowRequest("t1", "WEEKLY:2026-09-06", "close:t1:WEEKLY:2026-09-06", "WEEKLY", WEEK - dt.timedelta(6), WEEK,
                         WEEK + dt.timedelta(2), on_demand=False, account_id=None, first_number=1001, created_at=T0,
                         consolidate_into=None, pay_line_ids=("a", "b"))


def window_state():
    from workers.window_logic import WindowState

    return WindowState(request(), {0: 2, 7: 0}, frozenset({(0, 0), (0, 1)}), done=True, blocked=False,
                       invoice_count=3, batch_id="b1")


def tenant_state():
    from workers.window_logic import BlockedWindow, TenantState

    return TenantState("t1", TenantSequence("t1", 1003), frozenset({"WEEKLY:2026-08-30"}), ("b0", "b1"),
                       (BlockedWindow("MONTHLY:2026-08-31", "NO_BILLTO x2: ...", 2, T0, T0 + dt.timedelta(hours=1), 2,
                                      "close:t1:MONTHLY:2026-08-31:retry1"),),
                       calendar=_calendar())


def _calendar():
    from backoffice.invoice_setup import InvoiceSetup, TenantCalendar

    ny = InvoiceSetup("America/New_York", "FRIDAY", 3, dt.time(9, 30, 0, 250), (BillingCycle.WEEKLY,))
    return TenantCalendar({BillingCycle.WEEKLY: ((dt.date.min, InvoiceSetup()), (WEEK, ny)),
                           BillingCycle.MONTHLY: ((dt.date.min, InvoiceSetup()),)})


def batch() -> Batch:
    return Batch("t1", "b1", T0, WEEK - dt.timedelta(6), WEEK, ("inv-1", "inv-2"), "1001", "1002",
                 Decimal("2520.00"), Decimal("0"), 2, 0)


def invoice() -> Invoice:
    il = InvoiceLine("l1", line(1).pay_line_id, "p1", "Regular hours", Decimal("40.00"), Decimal("31.50"),
                     Decimal("1260.00"), True, LineCategory.TIMESHEETS, LineItemStatus.NEW, "REG", WEEK, None, None,
                     WEEK - dt.timedelta(6), Decimal("40"), Decimal("31.5"), Decimal("103.95"), Decimal("1363.95"))
    return Invoice("t1", "inv-1", "b1", DocumentKind.INVOICE, "c1", "Client", "c1|PO-1", "USD", (il,),
                   Decimal("1260.00"), Decimal("103.95"), Decimal("1363.95"), Decimal("0.0825"), WEEK, WEEK + dt.timedelta(30),
                   WEEK - dt.timedelta(6), WEEK, 30, InvoicingMode.SEMI_AUTOMATIC, number="1001",
                   status=DocumentStatus.RECORDED, bill_to_contact=Contact("AP"), bill_to_address=None,
                   purchase_order="PO-1", template="default", version=2,
                   allocations=(CreditAllocation("inv-0", Decimal("10.00")),))


def invoice_record():
    from workers.agents_documents import InvoiceRecord

    return InvoiceRecord(invoice(), (("NEW", T0.isoformat(), "generated"), ("RECORDED", T0.isoformat(), "")),
                         ("file:///x.pdf",), ("ab" * 32,), None, (placement(),), (b"\xc3\x01ts",))


def lines_chunk():
    from workers.messages import LinesChunk

    return LinesChunk(request(), 5, 0, (line(1), credit_line()), (placement(),), {"ts1": b"\xc3\x01"})


def window_end():
    from workers.messages import WindowEnd

    return WindowEnd(request(), 5, 8, 1, expired_orphans=2)


def collect():
    from workers.messages import Collect

    return Collect(request(), 3, 8)


def settle():
    from workers.messages import Settle

    return Settle("WEEKLY:2026-09-06", "t1", {"t1:p1": {line(1).pay_line_id: (line(1), "inv-1")}, "t1:p2": {}},
                  frozenset({"t1:p1"}))


def release():
    from workers.messages import Release

    return Release("WEEKLY:2026-09-06", "t1", 6)


def sweep_parked():
    from workers.messages import SweepParked

    return SweepParked(0)


def line_command():
    from workers.messages import LineCommand

    return LineCommand("cmd-9", "t1", "t1:p1", "CREDIT", None,
                       CreditMemoRequest("t1", "cr1", "p1", Decimal("99.999"), "why", WEEK, "l1", "inv-1", "", None),
                       None)


def document_command():
    from workers.messages import DocumentCommand

    return DocumentCommand("CONSOLIDATE", "inv-1", "cmd-3", invoice(), "default", ("a@example.com",), True,
                           ("x", "y"), (placement(),), (line(2),), BilltoHierarchy([node()]), "cmd:c3",
                           (b"\xc3\x01",), "t1")


#: schema name -> a function building its sample value
SAMPLES = {
    "billto_node": node, "ledger_record": ledger_record, "window_state": window_state, "tenant_state": tenant_state,
    "batch": batch, "invoice_record": invoice_record, "command_seen": lambda: "CLOSE_WINDOW",
    "sync_status": lambda: {"status": "FAILED", "system": "xero", "external_id": None, "error": "timeout \u2603",
                            "attempts": 3, "occurred_at": T0},
    "lines_chunk": lines_chunk, "window_end": window_end, "collect": collect, "settle": settle, "release": release,
    "sweep_parked": sweep_parked, "line_command": line_command, "document_command": document_command,
}
