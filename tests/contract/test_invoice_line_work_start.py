"""billing.invoices v2 adds lines[].work_start (issue 11, part 8): events written by v1 still decode,
and a consumer still on v1 reads v2 events."""
import datetime as dt
import json
from dataclasses import replace
from decimal import Decimal as D

from schemas.codec import SCHEMA_DIR, Codec, decode, encode, load_schema, load_schema_dir
from schemas.mapping import invoice_from_record, invoice_to_record

# An InvoiceGenerated written by the v1 writer (the schema before work_start existed): invoice 1001 for
# Acme, one line t1:p1|TS|ts1|REG 40h x 40.00 dated 2025-10-05, period 2025-09-29 - 2025-10-05.
V1_INVOICE_GENERATED = bytes.fromhex(
    "c301a04ff9d8fa41dbbe06652d310474318080bebfb766000a696e762d3106622d31000208313030310004636c0841636d650e414343"
    "4f554e540655534402086c692d312074313a70317c54537c7473317c52454704703160417661204368656e202d20526567756c617220"
    "686f7572732c207765656b20656e64696e672031302f30352f3230323506061a8006061a80060271000100000206524547029cbe0200"
    "0000060271000200060271000200a0be02dcbe0290be029cbe023c000000000000000000")


def test_an_invoice_event_written_by_v1_decodes_with_work_start_null():
    decoded = decode(V1_INVOICE_GENERATED, topic="billing.invoices", partition=0, offset=0)
    assert decoded.schema_name == "InvoiceEvent"
    invoice = invoice_from_record(decoded.record)
    (line,) = invoice.lines
    assert (invoice.number, invoice.period_start, invoice.period_end) == ("1001", dt.date(2025, 9, 29),
                                                                           dt.date(2025, 10, 5))
    assert (line.pay_line_id, line.quantity, line.amount, line.work_date) == ("t1:p1|TS|ts1|REG", D("40"),
                                                                               D("1600.00"), dt.date(2025, 10, 5))
    assert line.work_start is None


def test_work_start_travels_with_the_line_and_a_v1_consumer_still_reads_the_event():
    invoice = invoice_from_record(decode(V1_INVOICE_GENERATED).record)
    split = replace(invoice, lines=(replace(invoice.lines[0], work_start=dt.date(2025, 10, 1)),))
    record = invoice_to_record(split, event_id="e-2", event_type="GENERATED",
                               occurred_at=dt.datetime(2025, 10, 7, tzinfo=dt.timezone.utc))
    payload = encode("InvoiceEvent", record)
    assert invoice_from_record(decode(payload).record).lines[0].work_start == dt.date(2025, 10, 1)
    v1 = next(s for s in load_schema_dir() if s.name == "InvoiceEvent" and s.version == 1)
    v1_consumer = Codec(load_schema_dir(), readers={"InvoiceEvent": v1.version})
    old_view = v1_consumer.decode(payload).record
    assert "work_start" not in old_view["lines"][0] and old_view["lines"][0]["amount"] == D("1600.00")


def test_the_kept_v1_schema_is_the_one_that_wrote_the_old_bytes():
    v1 = load_schema(json.loads((SCHEMA_DIR / "history" / "billing_invoices.v1.avsc").read_text()))
    assert V1_INVOICE_GENERATED[2:10] == v1.fingerprint
