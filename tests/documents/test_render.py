"""Rendered PDFs read back with pypdf: every block's values are in the text a client receives."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest
import yaml

from backoffice.model import DocumentKind
from documents import formatting
from documents.registry import TemplateRegistry
from documents.render import preview, render_document, render_timesheet_report
from tests.documents import factories
from tests.documents.pdfs import page_count, pdf_text


def test_invoice_pdf_shows_every_block(registry, agency):
    invoice = factories.invoice()
    text = pdf_text(render_document(invoice, registry.resolve(invoice), agency))

    assert "Invoice" in text and "INV-1001" in text and "Mar 17, 2026" in text  # title block
    assert "Northwind Staffing LLC" in text and "400 Market Street" in text  # header block
    assert "Bill To".upper() in text.upper() and "Globex Corporation" in text and "Chicago, IL 60601" in text
    assert "Attn: Alice Payable" in text
    assert "PO Box 78123" in text  # remit to
    assert "Net 30" in text and "Apr 16, 2026" in text and "03/09/2026 - 03/15/2026" in text  # billing details
    flat = " ".join(text.split())
    for line in invoice.lines:
        assert line.description in flat
        row = f"{formatting.quantity(line.quantity)} {formatting.money(line.rate)} {formatting.money(line.amount)}"
        assert row in flat, row
    assert "Total Tax 1,235.54" in flat
    assert "Total Amount 21,004.17 USD" in flat
    assert "Thank you for your business." in text  # message from the template
    assert "Page 1 of 1" in text and "Questions about this invoice?" in text  # footer blocks


def test_credit_memo_says_credit_memo_with_negative_amounts(registry, agency):
    memo = factories.credit_memo()
    template = registry.resolve(memo)
    assert template.name == "standard_credit_memo"
    flat = " ".join(pdf_text(render_document(memo, template, agency)).split())

    assert "Credit Memo" in flat and "CM-2001" in flat
    assert "Placement fee credit - John Smith falloff (60-day guarantee) 1 -9,250.00 -9,250.00" in flat
    assert "Total Amount -9,250.00 USD" in flat
    assert not re.search(r"(?<![-\d,])9,250\.00", flat), "every amount on a credit memo is negative"


def test_credit_memo_with_positive_stored_amounts_still_prints_negative(registry, agency):
    memo = factories.credit_memo()
    positive = replace(memo, lines=tuple(replace(l, rate=-l.rate, amount=-l.amount) for l in memo.lines),
                       subtotal=-memo.subtotal, total=-memo.total)
    flat = " ".join(pdf_text(render_document(positive, registry.resolve(positive), agency)).split())
    assert "Total Amount -9,250.00 USD" in flat and " 9,250.00" not in flat.replace("-9,250.00", "")


def test_timesheet_report_lists_the_weeks_entries(registry, agency):
    invoice = factories.invoice()
    data = render_timesheet_report(
        factories.temp_placement(), [factories.approval(version=1), factories.approval(version=2)], invoice,
        template=registry.timesheet_report(), agency=agency,
    )
    flat = " ".join(pdf_text(data).split())
    assert "Timesheet Report" in flat and "INV-1001" in flat
    assert "Jane Doe" in flat and "Warehouse Associate" in flat and "Maria Manager" in flat and "Mar 15, 2026" in flat
    for day in ("03/09/2026 Mon REG 8 03/10/2026", "03/11/2026 Wed OT 2.50", "03/13/2026 Fri OT 4 REG total"):
        assert day in flat
    assert flat.count(" REG 8 ") == 5, "the version-2 approval replaces version 1, not doubles it"
    assert "REG total 40 25.50 1,020.00 OT total 6.50 38.25 248.63" in flat, "per pay code: the invoice line's amount"
    assert "Total 46.50 1,268.63" in flat


def test_same_input_same_bytes(registry, agency):
    invoice = factories.invoice()
    template = registry.resolve(invoice)
    first = render_document(invoice, template, agency)
    assert preview(invoice, template, agency) == first
    changed = render_document(replace(invoice, number="INV-1002"), template, agency)
    assert changed != first


def test_long_invoice_splits_into_numbered_pages_and_keeps_every_line(registry, agency):
    invoice = factories.invoice(factories.many_lines(200))
    data = render_document(invoice, registry.resolve(invoice), agency)
    pages = page_count(data)
    assert pages >= 5
    text = pdf_text(data)
    for number in range(1, pages + 1):
        assert f"Page {number} of {pages}" in text
    for line in invoice.lines:
        assert line.description in text
    assert formatting.money(invoice.total) in text


def test_field_sets_choose_what_a_block_shows(template_root, agency):
    manifest_path = template_root / "standard_invoice" / "manifest.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["name"] = "compact"
    manifest["fields"]["line_items"] = ["work_date", "description", "amount"]
    manifest["fields"]["bill_to"] = ["company_name"]
    manifest["fields"]["billing_details"] = ["due_date", "purchase_order"]
    manifest_path.write_text(yaml.safe_dump(manifest))
    registry = TemplateRegistry.load(template_root, strict=True)
    invoice = factories.invoice()
    flat = " ".join(pdf_text(render_document(invoice, registry.get("compact"), agency)).split())

    assert "Date Description Amount" in flat and "Qty" not in flat and "Rate" not in flat
    assert "03/15/2026 Placement fee - John Smith, Senior Accountant 18,500.00" in flat
    assert "Attn: Alice Payable" not in flat and "1 Globex Plaza" not in flat
    assert "PO-7788" in flat and "Net 30" not in flat


@pytest.mark.parametrize("kind", [DocumentKind.INVOICE, DocumentKind.CREDIT_MEMO])
def test_pictures_for_people(registry, agency, kind):
    """Standard invoice and credit memo as PNGs in test-artifacts/documents for a person to look at."""
    pytest.importorskip("pypdfium2", reason="pypdfium2 renders the PNGs; install the test extra")
    from tests.documents.pdfs import save_pictures

    if kind is DocumentKind.INVOICE:
        documents = {"standard-invoice": factories.invoice(), "long-invoice": factories.invoice(factories.many_lines(60))}
    else:
        documents = {"standard-credit-memo": factories.credit_memo()}
    for name, document in documents.items():
        data = render_document(document, registry.resolve(document), agency)
        paths = save_pictures(name, data)
        assert len(paths) == page_count(data)
        assert all(p.stat().st_size > 10_000 for p in paths), "a blank page compresses to almost nothing"
    if kind is DocumentKind.INVOICE:
        report = render_timesheet_report(factories.temp_placement(), [factories.approval()], factories.invoice(),
                                         template=registry.timesheet_report(), agency=agency)
        assert save_pictures("timesheet-report", report)


def test_rows_per_table_splits_long_tables_without_losing_lines(registry, agency):
    invoice = factories.invoice(factories.many_lines(25))
    template = replace(registry.resolve(invoice), rows_per_table=10)
    text = pdf_text(render_document(invoice, template, agency))
    assert text.count("Description") >= 3, "one header per table of 10 rows (plus repeats at page breaks)"
    flat = " ".join(text.split())
    assert [int(n) for n in re.findall(r"Worker (\d{3})", flat)] == list(range(1, 26))
