"""Pure projection (readmodel.rows): messages -> the rows of one transaction."""
import datetime as dt
from decimal import Decimal
from pathlib import Path

from backoffice import ledger as L
from schemas.codec import decode, encode
from schemas.mapping import dead_letter_record
from schemas.topics import BILLING_INVOICES, BILLING_PAYLINES, dead_letter_topic, ATS_TIMESHEETS
from readmodel.rows import Message, build
from tests.domain.factories import WEEK_END, placement, timesheet
from workers.ledger_logic import LedgerRecord
from workers.paylines_logic import changes, stamped

AT = dt.datetime(2026, 11, 24, 9, tzinfo=dt.timezone.utc)
FIXTURES = Path(__file__).resolve().parents[1] / "contract" / "fixtures"


def invoice_record(**over) -> dict:
    rec = decode((FIXTURES / "invoice_generated_v1_invoice.avro").read_bytes()).record
    return {**rec, **over}


def payline_messages():
    led = L.apply_placement(L.empty_ledger("t1", "p1"), placement("p1")).ledger
    first = LedgerRecord(L.apply_timesheet(led, timesheet("ts1", "p1", ot="4"), WEEK_END).ledger)
    v1 = changes(None, first, AT)
    second = stamped(first, v1)
    rerated = L.apply_timesheet(second.ledger, timesheet("ts1", "p1", version=2, reg="10"), WEEK_END).ledger
    v2 = changes(second, LedgerRecord(rerated, line_versions=second.line_versions), AT)
    return [Message(BILLING_PAYLINES, 0, i, e["pay_line_id"].encode(), encode("PayLineEvent", e))
            for i, e in enumerate(v1 + v2)]


def test_the_newest_version_of_each_pay_line_wins_and_positions_follow_the_offsets():
    messages = payline_messages()
    batch = build(messages, AT)
    reg = next(k for k in batch.pay_lines if k.endswith("|REG"))
    ot = next(k for k in batch.pay_lines if k.endswith("|OT"))
    assert batch.pay_lines[reg]["version"] == 2 and batch.pay_lines[reg]["amount"] == Decimal("400.00")
    assert batch.pay_lines[ot]["status"] == "REMOVED" and batch.pay_lines[ot]["last_change"] == "REMOVED"
    assert batch.positions == {(BILLING_PAYLINES, 0): len(messages)}
    # the same events in another order (a replayed older event after a newer one): same rows
    assert build(list(reversed(messages)), AT).pay_lines == batch.pay_lines


def test_an_invoice_keeps_its_last_event_its_lines_and_every_event_of_its_history():
    generated = invoice_record(event_id="e1", event_type="GENERATED", status="NEW")
    sent = invoice_record(event_id="e2", event_type="SENT", status="SENT")
    batch = build([Message(BILLING_INVOICES, 3, 10, b"k", encode("InvoiceEvent", generated)),
                   Message(BILLING_INVOICES, 3, 11, b"k", encode("InvoiceEvent", sent))], AT)
    (row,) = batch.invoices.values()
    assert row["status"] == "SENT" and row["total"] == generated["total"] and row["line_count"] == len(sent["lines"])
    (lines,) = batch.invoice_lines.values()
    assert sum(x["amount"] for x in lines) == generated["subtotal"]
    assert [e["event_type"] for e in batch.invoice_events.values()] == ["GENERATED", "SENT"]


def test_an_unreadable_message_becomes_a_dead_letter_row_and_the_batch_goes_on():
    letter = dead_letter_record(topic=ATS_TIMESHEETS, partition=2, offset=7, key=b"t9:p1", value=b"junk",
                                error=ValueError("bad hours"), first_seen=AT, tenant_id="t9")
    messages = [Message(BILLING_INVOICES, 0, 5, b"x", b"not avro"),
                Message(BILLING_PAYLINES, 1, 0, b"x", encode("DeadLetter", letter)),     # wrong schema for the topic
                Message(dead_letter_topic(ATS_TIMESHEETS), 0, 0, b"t9:p1", encode("DeadLetter", letter))]
    batch = build(messages, AT)
    rows = batch.dead_letters
    assert rows[(dead_letter_topic(ATS_TIMESHEETS), 0, 0)]["error"] == "bad hours"
    assert rows[(dead_letter_topic(ATS_TIMESHEETS), 0, 0)]["tenant_id"] == "t9"
    assert rows[(BILLING_INVOICES, 0, 5)]["error_type"] == "DecodeError"
    assert "DeadLetter on billing.paylines" in rows[(BILLING_PAYLINES, 1, 0)]["error"]
    assert not batch.invoices and not batch.pay_lines and len(batch.positions) == 3
