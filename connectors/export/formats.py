"""Import files for offline AR/GL systems, from our documents (pure: bytes out, no I/O).

- QuickBooks Desktop IIF (Intuit's IIF import kit, "Invoice"/"Credit memo" examples with
  sales tax): tab-separated; `!TRNS`/`!SPL`/`!ENDTRNS` header rows, then per document a TRNS
  row on Accounts Receivable carrying the total, one SPL row per line with the opposite sign,
  the sign carried by QNTY (PRICE is the positive unit price), and for sales tax one SPL row
  on the company's sales-tax item (INVITEM, PRICE the rate in %) with EXTRA=AUTOSTAX, so
  QuickBooks books it to the sales-tax liability. TRNS + SPLs sum to zero. Credit memos are
  TRNSTYPE CREDIT MEMO; our negative amounts give A/R the right sign.
- Xero sales-invoice CSV: Xero's documented columns (* = required), the invoice number
  repeated on every line, dates in the organisation's regional format (the tenant's mapping:
  DD/MM/YYYY, or MM/DD/YYYY for a US organisation), at most 500 invoices a file. Credit
  notes go in their own files (Xero imports them from negative totals in the same template).
- QuickBooks Online invoice CSV: one row per line, dates MM/DD/YYYY. QBO's importer takes
  invoices only, so a credit memo never goes in it (see `left_out_of_qbo_csv`).
- csv: every line of every document with all our fields, for anything else.
Rows are sorted by document number then line id, so the same batch gives the same bytes.
"""
from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Iterable

from backoffice.model import DocumentKind, Invoice, LineCategory
from connectors.mapping import DATE_FORMATS

XERO_COLUMNS = ["*ContactName", "EmailAddress", "POAddressLine1", "POAddressLine2", "POAddressLine3",
                "POAddressLine4", "POCity", "PORegion", "POPostalCode", "POCountry", "*InvoiceNumber", "Reference",
                "*InvoiceDate", "*DueDate", "Total", "InventoryItemCode", "*Description", "*Quantity", "*UnitAmount",
                "Discount", "*AccountCode", "*TaxType", "TaxAmount", "TrackingName1", "TrackingOption1",
                "TrackingName2", "TrackingOption2", "Currency", "BrandingTheme"]
QBO_COLUMNS = ["InvoiceNo", "Customer", "InvoiceDate", "DueDate", "Terms", "Location", "Memo",
               "Item(Product/Service)", "ItemDescription", "ItemQuantity", "ItemRate", "ItemAmount", "Taxable",
               "TaxRate"]
CSV_COLUMNS = ["tenant_id", "batch_id", "kind", "number", "invoice_id", "account_id", "account_name", "issue_date",
               "due_date", "currency", "line_id", "pay_line_id", "placement_id", "description", "quantity", "rate",
               "amount", "taxable", "category", "line_tax", "subtotal", "tax", "total", "purchase_order"]
XERO_INVOICES_PER_FILE = 500
ITEMS = {LineCategory.TIMESHEETS: "Timesheet hours", LineCategory.PRODUCTS_SERVICES: "Products & services"}


def ordered(documents: Iterable[Invoice]) -> list[Invoice]:
    return sorted(documents, key=lambda d: (d.kind is DocumentKind.CREDIT_MEMO, _num(d.number), d.invoice_id))


def _num(number: str | None) -> tuple:
    return (0, int(number), "") if number and number.isdigit() else (1, 0, number or "")


def line_taxes(doc: Invoice) -> list[Decimal]:
    """The document's tax spread over its taxable lines (largest remainder last), summing to doc.tax."""
    taxable = [ln for ln in doc.lines if ln.taxable]
    base = sum((ln.amount for ln in taxable), Decimal("0"))
    out, given = [], Decimal("0")
    for ln in doc.lines:
        if not ln.taxable or not base:
            out.append(Decimal("0.00"))
            continue
        share = (doc.tax * ln.amount / base).quantize(Decimal("0.01"))
        out.append(share)
        given += share
    if taxable and base:
        last = max(i for i, ln in enumerate(doc.lines) if ln.taxable)
        out[last] += doc.tax - given
    return out


def _us(d) -> str:
    return d.strftime("%m/%d/%Y")


def _terms(doc: Invoice) -> str:
    return f"Net {doc.net_terms_days}"


def _csv(rows: list[list], columns: list[str], delimiter: str = ",") -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


class ExportSettingMissing(ValueError):
    """An export needs a per-company setting that was not given (never guessed)."""


def iif(documents: Iterable[Invoice], *, ar_account: str = "Accounts Receivable", income_account: str = "Income",
        tax_account: str = "Sales Tax Payable", sales_tax_item: str | None = None) -> bytes:
    docs = ordered(documents)
    if any(d.tax for d in docs) and not sales_tax_item:
        raise ExportSettingMissing("IIF export: setting 'sales_tax_item' is missing: the name of the company's "
                                   "sales-tax item (QuickBooks: Lists > Item List, type Sales Tax Item)")
    rows = [["!TRNS", "TRNSID", "TRNSTYPE", "DATE", "ACCNT", "NAME", "AMOUNT", "DOCNUM", "MEMO", "DUEDATE", "TERMS"],
            ["!SPL", "SPLID", "TRNSTYPE", "DATE", "ACCNT", "NAME", "AMOUNT", "DOCNUM", "MEMO", "QNTY", "PRICE",
             "INVITEM", "TAXABLE", "EXTRA"],
            ["!ENDTRNS"]]
    for doc in docs:
        kind = "CREDIT MEMO" if doc.kind is DocumentKind.CREDIT_MEMO else "INVOICE"
        name = _clean(doc.account_name)
        rows.append(["TRNS", "", kind, _us(doc.issue_date), ar_account, name, str(doc.total), doc.number or "",
                     _clean(f"{doc.invoice_id} {doc.purchase_order or ''}".strip()), _us(doc.due_date), _terms(doc)])
        credit = doc.kind is DocumentKind.CREDIT_MEMO
        for ln in sorted(doc.lines, key=lambda x: x.line_id):
            # the kit's sign convention: QNTY carries the SPL's sign (negative on an invoice,
            # positive on a credit memo), PRICE stays the positive unit price
            quantity = abs(ln.quantity) if credit else -abs(ln.quantity)
            rows.append(["SPL", "", kind, _us(doc.issue_date), income_account, name, str(-ln.amount), doc.number or "",
                         _clean(ln.description), str(quantity), str(abs(ln.rate)), ITEMS[ln.category],
                         "Y" if ln.taxable else "N", ""])
        if doc.tax:
            rows.append(["SPL", "", kind, _us(doc.issue_date), tax_account, "", str(-doc.tax), doc.number or "",
                         "Sales tax", "", f"{(doc.tax_rate * 100).normalize():f}%", _clean(sales_tax_item or ""),
                         "N", "AUTOSTAX"])
        rows.append(["ENDTRNS"])
    return "".join("\t".join(r) + "\r\n" for r in rows).encode("utf-8")


def _clean(text: str) -> str:
    """IIF has no quoting: tabs and newlines inside a field would break the row."""
    return " ".join(text.replace("\t", " ").split())


def xero_csv(documents: Iterable[Invoice], *, date_format: str, account_code: str = "200",
             taxable_type: str = "Tax on Sales", exempt_type: str = "Tax Exempt") -> list[bytes]:
    """One or more files (500 invoices each); invoices first, then credit notes. `date_format`
    is the organisation's (DD/MM/YYYY or MM/DD/YYYY): Xero reads the dates in it."""
    if date_format not in DATE_FORMATS:
        raise ExportSettingMissing(f"Xero CSV export: setting 'date_format' must be one of {', '.join(DATE_FORMATS)} "
                                   f"(the organisation's regional format), not {date_format!r}")
    strf = DATE_FORMATS[date_format]
    docs = ordered(documents)
    files = []
    for kind in (DocumentKind.INVOICE, DocumentKind.CREDIT_MEMO):
        mine = [d for d in docs if d.kind is kind]
        for start in range(0, len(mine), XERO_INVOICES_PER_FILE):
            rows = []
            for doc in mine[start:start + XERO_INVOICES_PER_FILE]:
                addr = doc.bill_to_address
                taxes = line_taxes(doc)
                for ln, tax in sorted(zip(doc.lines, taxes), key=lambda x: x[0].line_id):
                    rows.append([doc.account_name, doc.bill_to_contact.email if doc.bill_to_contact else "",
                                 addr.line1 if addr else "", addr.line2 if addr else "", "", "",
                                 addr.city if addr else "", addr.region if addr else "",
                                 addr.postal_code if addr else "", addr.country if addr else "",
                                 doc.number or "", doc.purchase_order or "", doc.issue_date.strftime(strf),
                                 doc.due_date.strftime(strf), str(doc.total), "", ln.description,
                                 str(ln.quantity), str(ln.rate), "", account_code,
                                 taxable_type if ln.taxable else exempt_type, str(tax), "", "", "", "",
                                 doc.currency, ""])
            files.append(_csv(rows, XERO_COLUMNS))
    return files


def qbo_csv(documents: Iterable[Invoice]) -> bytes:
    """The invoices only: QBO's CSV importer takes invoices, so credit memos (negative
    amounts would book as negative invoices) are left out; `left_out_of_qbo_csv` lists them."""
    rows = []
    for doc in (d for d in ordered(documents) if d.kind is DocumentKind.INVOICE):
        for ln in sorted(doc.lines, key=lambda x: x.line_id):
            rows.append([doc.number or "", doc.account_name, _us(doc.issue_date), _us(doc.due_date), _terms(doc),
                         "", doc.invoice_id, ITEMS[ln.category], ln.description, str(ln.quantity), str(ln.rate),
                         str(ln.amount), "Y" if ln.taxable else "N",
                         f"{(doc.tax_rate * 100).normalize()}%" if ln.taxable else ""])
    return _csv(rows, QBO_COLUMNS)


def left_out_of_qbo_csv(documents: Iterable[Invoice]) -> bytes:
    """A note naming the credit memos a QBO CSV cannot carry: enter them in QuickBooks by hand
    (their PDFs are in the same zip). Empty when there are none."""
    memos = [d for d in ordered(documents) if d.kind is DocumentKind.CREDIT_MEMO]
    if not memos:
        return b""
    lines = ["QuickBooks Online's CSV import takes invoices only. Enter these credit memos in QuickBooks:", ""]
    lines += [f"{d.number or d.invoice_id}\t{d.account_name}\t{d.issue_date.isoformat()}\t{d.total}" for d in memos]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def plain_csv(documents: Iterable[Invoice]) -> bytes:
    rows = []
    for doc in ordered(documents):
        for ln, tax in sorted(zip(doc.lines, line_taxes(doc)), key=lambda x: x[0].line_id):
            rows.append([doc.tenant_id, doc.batch_id, doc.kind.value, doc.number or "", doc.invoice_id, doc.account_id,
                         doc.account_name, doc.issue_date.isoformat(), doc.due_date.isoformat(), doc.currency,
                         ln.line_id, ln.pay_line_id, ln.placement_id, ln.description, str(ln.quantity), str(ln.rate),
                         str(ln.amount), "true" if ln.taxable else "false", ln.category.value, str(tax),
                         str(doc.subtotal), str(doc.tax), str(doc.total), doc.purchase_order or ""])
    return _csv(rows, CSV_COLUMNS)
