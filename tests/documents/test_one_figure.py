"""Issue 13 regressions on what a client reads: the PDF and the timesheet report, parsed back with pypdf."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from backoffice.model import PayCode, TimesheetApproval, TimesheetEntry
from documents.render import render_document, render_timesheet_report
from schemas.codec import decode
from schemas.mapping import invoice_from_record
from tests.documents import factories
from tests.documents.pdfs import pdf_text

FIXTURES = Path(__file__).resolve().parents[1] / "contract" / "fixtures"


def _flat(data: bytes) -> str:
    return " ".join(pdf_text(data).split())


def _week(hours: str, days: int = 5) -> TimesheetApproval:
    dates = [factories.WEEK_END - dt.timedelta(days=d) for d in range(6, 6 - days, -1)]
    return TimesheetApproval(
        tenant_id="t1", event_id="ev-1", timesheet_id="TS-P-100", placement_id="P-100",
        week_ending=factories.WEEK_END, entries=tuple(TimesheetEntry(d, PayCode.REG, Decimal(hours)) for d in dates),
        approved_at=dt.datetime(2026, 3, 16, 9, 30, tzinfo=dt.UTC), version=1, approver="Maria Manager")


def test_timesheet_report_shows_the_invoice_lines_amount_not_days_re_multiplied(registry, agency):
    """5 days x 7.5 h at 33.33: the invoice line is 37.5 x 33.33 = 1,249.875 -> 1,249.88. Rounding each
    day (249.975 -> 249.98) and adding gives 1,249.90: the report said so while the invoice said 1,249.88."""
    line = factories.line(1, "Jane Doe - Regular hours w/e 03/15/2026", "37.5", "33.33")
    invoice = factories.invoice((line,))
    assert line.amount == Decimal("1249.88")
    placement = dataclasses.replace(factories.temp_placement(), bill_rates=((PayCode.REG, Decimal("33.33")),))
    flat = _flat(render_timesheet_report(placement, [_week("7.5")], invoice, template=registry.timesheet_report(),
                                         agency=agency))
    assert "1,249.90" not in flat and "249.98" not in flat
    assert "Total 37.50 1,249.88" in flat
    assert "REG total 37.50 33.33 1,249.88" in flat
    assert flat.count(" Mon REG 7.50") == 1 and flat.count(" REG 7.50") == 5, "the hours of every day are shown"


def test_a_four_decimal_rate_prints_in_full_so_quantity_x_rate_is_the_amount(registry, agency):
    """40 h at 27.3333 is 1,093.33; printed as 27.33 the page said 40 x 27.33 (= 1,093.20) = 1,093.33."""
    line = factories.line(1, "Jane Doe - Regular hours w/e 03/15/2026", "40", "27.3333")
    invoice = factories.invoice((line,))
    flat = _flat(render_document(invoice, registry.resolve(invoice), agency))
    assert "40 27.3333 1,093.33" in flat
    assert not re.search(r"27\.33(?!\d)", flat)
    placement = dataclasses.replace(factories.temp_placement(), bill_rates=((PayCode.REG, Decimal("27.3333")),))
    report = _flat(render_timesheet_report(placement, [_week("8")], invoice, template=registry.timesheet_report(),
                                           agency=agency))
    assert "REG total 40 27.3333 1,093.33" in report and "1,093.35" not in report


def test_every_printed_line_multiplies_out_to_its_printed_amount(registry, agency):
    """An adjustment whose rate changed but hours did not (0 h, +80.00) must not print 0 x 32.00 = 80.00."""
    lines = (factories.line(1, "Regular hours", "40", "27.3333"),
             dataclasses.replace(factories.line(2, "Adjustment: Regular hours", "0", "32.00"), amount=Decimal("80.00")),
             factories.line(3, "Overtime", "2.25", "41.005"))
    invoice = factories.invoice(lines)
    flat = _flat(render_document(invoice, registry.resolve(invoice), agency))
    rows = re.findall(r"(-?[\d,]+(?:\.\d+)?) (-?[\d,]+\.\d{2,4}) (-?[\d,]+\.\d{2})(?= |$)", flat)
    assert len(rows) >= len(lines)
    for quantity, rate, amount in rows[:len(lines)]:
        product = Decimal(quantity.replace(",", "")) * Decimal(rate.replace(",", ""))
        assert product.quantize(Decimal("0.01"), ROUND_HALF_UP) == Decimal(amount.replace(",", "")), (quantity, rate)


def test_events_written_by_the_v1_schema_still_decode_and_render(registry, agency):
    """Bytes written with billing_invoices.avsc as it was before issue 13 (tests/contract/fixtures)."""
    split = invoice_from_record(decode((FIXTURES / "invoice_generated_v1_invoice_tax_split.avro").read_bytes()).record)
    assert [ln.tax_share for ln in split.lines] == [Decimal("0.34"), Decimal("0.33"), Decimal("0.33"), Decimal("0.00")]
    assert split.total == Decimal("36.00")
    memo = invoice_from_record(decode((FIXTURES / "invoice_generated_v1_credit_memo.avro").read_bytes()).record)
    assert [(a.invoice_id, a.amount) for a in memo.allocations] == [("inv-1", Decimal("9250.00"))]
    invoice = invoice_from_record(decode((FIXTURES / "invoice_generated_v1_invoice.avro").read_bytes()).record)
    assert sum(ln.tax_share for ln in invoice.lines) == invoice.tax
    flat = _flat(render_document(invoice, registry.resolve(invoice), agency))
    assert "INV-1001" in flat and f"{invoice.total:,.2f}" in flat
