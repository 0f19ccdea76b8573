"""Invoices and credit memos for the Xero tests and bench, and the check that Xero's books equal ours."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

from backoffice.model import DocumentKind, Invoice, InvoiceLine
from backoffice.money import round_cents
from connectors.base import OutgoingDocument, SyncOutcome, SyncStatus
from tests.connectors.xero_ledger import Book
from tests.documents import factories

ACCOUNTS = ("Globex Corporation", 'O\'Brien "Quick" Staffing \\ Sons', "Initech LLC", "Umbrella Co == Ltd",
            "Acme OR Partners", "Stark Industries", "Wayne Enterprises", "Hooli", "Soylent Corp", "Vandelay Import")


def _invoice(i: int, prefix: str) -> Invoice:
    lines = []
    for n in range(1 + i % 4):
        ln = factories.line(n + 1, f"Worker {i:04d}-{n} - Regular hours w/e 03/15/2026", ("40", "6.5", "12.25", "1")[n],
                            f"{20 + (i * 7 + n) % 30}.{(i + n) % 100:02d}", placement_id=f"P-{i}-{n}")
        lines.append(dataclasses.replace(ln, line_id=f"{prefix}L-{i}-{n}", pay_line_id=f"{prefix}PL-{i}-{n}",
                                         taxable=(i + n) % 3 != 0))
    tax_rate = "0.0625" if i % 5 else "0"
    inv = factories.invoice(tuple(lines), number=f"{prefix}INV-{i:05d}", invoice_id=f"{prefix}inv-{i}",
                            account_name=ACCOUNTS[i % len(ACCOUNTS)], tax_rate=tax_rate)
    taxable = sum((ln.amount for ln in inv.lines if ln.taxable), Decimal("0"))
    tax = round_cents(taxable * Decimal(tax_rate))
    return dataclasses.replace(inv, tax=tax, total=inv.subtotal + tax)


def invoices(count: int, prefix: str = "") -> list[Invoice]:
    return [_invoice(i, prefix) for i in range(count)]


def credit_memo_for(original: Invoice, index: int, prefix: str = "") -> Invoice:
    """Credits part of the original's first line (negative lines and totals, as we book them)."""
    first = original.lines[0]
    quantity = -(first.quantity / 2).quantize(Decimal("0.01"))
    line = InvoiceLine(
        line_id=f"{prefix}CL-{index}", pay_line_id=f"{prefix}CPL-{index}", placement_id=first.placement_id,
        description=f"Credit - {first.description}", quantity=quantity, rate=first.rate,
        amount=round_cents(quantity * first.rate), taxable=first.taxable, category=first.category,
        credited_line_id=first.line_id, credited_invoice_id=original.invoice_id)
    tax = round_cents(line.amount * original.tax_rate) if line.taxable else Decimal("0.00")
    return dataclasses.replace(
        original, invoice_id=f"{prefix}cm-{index}", kind=DocumentKind.CREDIT_MEMO, number=f"{prefix}CM-{index:05d}",
        lines=(line,), subtotal=line.amount, tax=tax, total=line.amount + tax)


def pdf_for(invoice: Invoice) -> bytes:
    return f"%PDF-1.4\n% {invoice.number} for {invoice.account_name}\n%%EOF\n".encode()


def outgoing(invoice: Invoice, credited: tuple[str, ...] = (), with_pdf: bool = True) -> OutgoingDocument:
    return OutgoingDocument(invoice, pdf=pdf_for(invoice) if with_pdf else None,
                            pdf_name=f"{invoice.number}.pdf" if with_pdf else None, credited_external_ids=credited)


def assert_synced(outcomes: list[SyncOutcome], docs: list[OutgoingDocument]) -> dict[str, str]:
    """Every outcome SYNCED, in order; returns our invoice id -> Xero id."""
    assert [o.invoice_id for o in outcomes] == [d.invoice.invoice_id for d in docs]
    failed = [(o.invoice_id, o.error) for o in outcomes if o.status is not SyncStatus.SYNCED]
    assert not failed, failed[:5]
    return {o.invoice_id: o.external.external_id for o in outcomes}


def assert_books_equal(book: Book, docs: list[OutgoingDocument], xero_ids: dict[str, str]) -> None:
    """Xero holds each document exactly once, equal to ours: contact, dates, lines, tax, totals,
    allocations and attachments."""
    for collection, kind in (("Invoices", DocumentKind.INVOICE), ("CreditNotes", DocumentKind.CREDIT_MEMO)):
        ours = [d for d in docs if d.invoice.kind is kind]
        theirs = book.documents[collection]
        number_field = "InvoiceNumber" if kind is DocumentKind.INVOICE else "CreditNoteNumber"
        assert len(theirs) == len(ours), (collection, len(theirs), len(ours))
        by_number = {d[number_field]: d for d in theirs.values()}
        assert len(by_number) == len(theirs)
        for doc in ours:
            _assert_document_equal(by_number[doc.invoice.number], doc, xero_ids)
    assert sorted(c["Name"] for c in book.contacts.values()) == sorted({d.invoice.account_name for d in docs})
    with_pdf = {xero_ids[d.invoice.invoice_id]: d for d in docs if d.pdf is not None}
    assert {doc_id for doc_id, _ in book.attachments} == set(with_pdf)
    for (doc_id, name), (mime, data) in book.attachments.items():
        assert (name, mime, data) == (with_pdf[doc_id].pdf_name, "application/pdf", with_pdf[doc_id].pdf)
    credits = [d for d in docs if d.credited_external_ids]
    assert len(book.allocations) == len(credits)
    allocations = {a["CreditNote"]["CreditNoteID"]: a for a in book.allocations}
    for doc in credits:
        allocation = allocations[xero_ids[doc.invoice.invoice_id]]
        assert allocation["Invoice"]["InvoiceID"] == doc.credited_external_ids[0]
        assert allocation["Amount"] == -doc.invoice.total


def _assert_document_equal(theirs: dict, doc: OutgoingDocument, xero_ids: dict[str, str]) -> None:
    inv = doc.invoice
    sign = Decimal(-1) if inv.kind is DocumentKind.CREDIT_MEMO else Decimal(1)
    id_field = "CreditNoteID" if inv.kind is DocumentKind.CREDIT_MEMO else "InvoiceID"
    assert theirs[id_field] == xero_ids[inv.invoice_id]
    assert theirs["Contact"]["Name"] == inv.account_name
    assert (theirs["Date"], theirs["DueDate"]) == (inv.issue_date.isoformat(), inv.due_date.isoformat())
    assert (theirs["CurrencyCode"], theirs["Reference"]) == (inv.currency, inv.purchase_order)
    assert theirs["Status"] in ("AUTHORISED", "PAID")
    assert (theirs["SubTotal"], theirs["TotalTax"], theirs["Total"]) == (inv.subtotal * sign, inv.tax * sign,
                                                                         inv.total * sign)
    assert len(theirs["LineItems"]) == len(inv.lines)
    for item, line in zip(theirs["LineItems"], inv.lines):
        assert item["Description"] == line.description
        assert item["LineAmount"] == line.amount * sign
        assert item["Quantity"] * item["UnitAmount"] == line.quantity * line.rate * sign
        assert item["TaxType"] == ("OUTPUT" if line.taxable else "NONE")
        assert item["AccountCode"] == "200"
