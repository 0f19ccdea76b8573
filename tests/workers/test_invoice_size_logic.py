"""The assembler's document command for one invoice (the invoice, its placements and the kept
approvals behind its timesheet lines, pickled onto document-commands) and the InvoiceGenerated
on billing.invoices stay under the broker's 1 MiB, however many worst-case lines one account's
consolidation holds: the window continues on numbered continuation invoices (pure)."""
import datetime as dt
import pickle
from collections import Counter

from backoffice.model import PayCode, PayLine, PayLineSource
from backoffice.numbering import TenantSequence
from schemas.codec import encode
from schemas.mapping import invoice_to_record
from tests.domain.factories import D, hierarchy, placement
from workers.messages import DocumentCommand, LinesChunk, WindowRequest
from workers.window_logic import ReportInputs, TenantState, generate

BROKER_LIMIT = 1024 * 1024
DAY = dt.date(2026, 11, 22)
NOW = dt.datetime(2026, 11, 24, 19, tzinfo=dt.timezone.utc)
APPROVAL = 32 * 1024                      # the largest accepted timesheet message (BACKOFFICE_MAX_MESSAGE_BYTES)


def _line(pid: str, n: int) -> PayLine:
    ts = f"{n:05d}-" + "t" * 1000
    return PayLine("t1", f"t1:{pid}|TS|{ts}|REG", pid, PayLineSource.TIMESHEET, "Regular", D("40"), D("31.50"),
                   D("1260.00"), DAY, DAY, True, pay_code=PayCode.REG, timesheet_id=ts, timesheet_version=1)


def test_every_document_command_and_invoice_event_of_a_400_line_window_fits_the_broker():
    pids = [f"{k:02d}" + "p" * 400 for k in range(4)]
    lines = tuple(_line(pids[n % 4], n) for n in range(400))
    approvals = {x.timesheet_id: bytes(APPROVAL) for x in lines}
    request = WindowRequest("t1", "WEEKLY:2026-11-22", "cmd-1", "WEEKLY", DAY - dt.timedelta(days=6), DAY,
                            dt.date(2026, 11, 24), created_at=NOW)
    chunk = LinesChunk(request, 0, 0, lines, tuple(placement(p) for p in pids), approvals)
    result = generate(request, [chunk], hierarchy(), TenantState("t1", TenantSequence("t1")))
    assert result.report.ok and len(result.invoices) > 1
    reports = ReportInputs.of([chunk])
    for invoice in result.invoices:
        places, kept = reports.for_invoice(invoice)
        command = DocumentCommand("GENERATED", invoice.invoice_id, "cmd-1", invoice, placements=places, approvals=kept)
        size = len(pickle.dumps(command, protocol=pickle.HIGHEST_PROTOCOL))
        assert size < BROKER_LIMIT, (invoice.grouping_key, len(invoice.lines), size)
        event = encode("InvoiceEvent", invoice_to_record(invoice, event_id="e", event_type="GENERATED",
                                                         occurred_at=NOW))
        assert len(event) < BROKER_LIMIT
    on = Counter(x.pay_line_id for inv in result.invoices for x in inv.lines)
    assert set(on) == {x.pay_line_id for x in lines} and set(on.values()) == {1}
    assert set(result.assignments) == set(on)
