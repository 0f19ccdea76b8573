"""Our documents in Xero's shapes, and Xero's answers back in ours.

Signs: our credit memos carry negative lines and totals; Xero credit notes
(Type ACCRECCREDIT) carry positive amounts, so every credit memo amount is negated on the
way out and compared negated on the way back.

Figures: every Quantity, UnitAmount, LineAmount and TaxAmount is the domain's
(backoffice.figures): Xero computes tax per line from the line's TaxType unless the line says
its TaxAmount, so we send each line's tax share and Xero's TotalTax and Total equal ours
whatever rate the org's OUTPUT tax type carries. UnitAmount keeps 4 decimals (requests say
unitdp=4); a line whose quantity x unit price Xero would round to another amount is refused.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backoffice.errors import UnrepresentableLine
from backoffice.figures import XERO, parse_cents, vendor_figures, vendor_total
from backoffice.model import DocumentKind, Invoice
from connectors.base import ExternalDocument, PermanentError

SYSTEM = "xero"


@dataclass(frozen=True, slots=True)
class XeroOptions:
    """Per-tenant chart-of-accounts choices."""

    account_code: str = "200"
    taxable_tax_type: str = "OUTPUT"
    exempt_tax_type: str = "NONE"
    status: str = "AUTHORISED"
    line_amount_types: str = "Exclusive"


@dataclass(frozen=True, slots=True)
class DocumentKindSpec:
    """The parts of Xero's API that differ between invoices and credit notes."""

    kind: str               # our ExternalDocument.kind
    xero_type: str          # Type
    collection: str         # URL segment and JSON list key
    id_field: str
    number_field: str


INVOICES = DocumentKindSpec("INVOICE", "ACCREC", "Invoices", "InvoiceID", "InvoiceNumber")
CREDIT_NOTES = DocumentKindSpec("CREDIT_MEMO", "ACCRECCREDIT", "CreditNotes", "CreditNoteID", "CreditNoteNumber")


def spec_for(kind: DocumentKind | str) -> DocumentKindSpec:
    return CREDIT_NOTES if str(kind) == DocumentKind.CREDIT_MEMO.value else INVOICES


def xero_literal(value: str) -> str:
    """A string literal for a `where` clause: backslashes and double quotes escaped C#-style."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def where_equals(field: str, values: Iterable[str]) -> str:
    """`Name=="a" OR Name=="b"`."""
    return " OR ".join(f"{field}=={xero_literal(v)}" for v in values)


def _number(value: Decimal) -> float:
    """JSON number for Xero. Exact: a float's repr round-trips every decimal of <= 15 digits."""
    return float(value)


def line_items(invoice: Invoice, options: XeroOptions) -> list[dict[str, Any]]:
    """The domain's figures as Xero line items (credit notes positive). A line Xero's own
    Quantity x UnitAmount (4 decimals, unitdp=4) would not bring to our amount is refused."""
    try:
        figures = vendor_figures(invoice, XERO)
    except UnrepresentableLine as exc:
        raise PermanentError(f"{exc.code}: {exc.reason}") from exc
    items = []
    for line, figure in zip(invoice.lines, figures.lines, strict=True):
        items.append({
            "Description": line.description,
            "Quantity": _number(figure.quantity),
            "UnitAmount": _number(figure.rate),
            "LineAmount": _number(figure.amount),
            "AccountCode": options.account_code,
            "TaxType": options.taxable_tax_type if line.taxable else options.exempt_tax_type,
            "TaxAmount": _number(figure.tax),
        })
    return items


def document_payload(invoice: Invoice, contact_id: str, options: XeroOptions) -> dict[str, Any]:
    spec = spec_for(invoice.kind)
    payload: dict[str, Any] = {
        "Type": spec.xero_type,
        "Contact": {"ContactID": contact_id},
        spec.number_field: invoice.number or invoice.invoice_id,
        "Date": invoice.issue_date.isoformat(),
        "DueDate": invoice.due_date.isoformat(),
        "CurrencyCode": invoice.currency,
        "Status": options.status,
        "LineAmountTypes": options.line_amount_types,
        "LineItems": line_items(invoice, options),
    }
    if invoice.purchase_order:
        payload["Reference"] = invoice.purchase_order
    return payload


def contact_payload(invoice: Invoice) -> dict[str, Any]:
    contact: dict[str, Any] = {"Name": invoice.account_name}
    person = invoice.bill_to_contact
    if person is not None:
        if person.email:
            contact["EmailAddress"] = person.email
        if person.phone:
            contact["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": person.phone}]
    address = invoice.bill_to_address
    if address is not None:
        contact["Addresses"] = [{
            "AddressType": "POBOX", "AttentionTo": person.name if person else "",
            "AddressLine1": address.line1, "AddressLine2": address.line2, "City": address.city,
            "Region": address.region, "PostalCode": address.postal_code, "Country": address.country,
        }]
    return contact


def xero_number(doc: dict[str, Any], spec: DocumentKindSpec) -> str:
    return str(doc.get(spec.number_field) or "")


def external_document(doc: dict[str, Any], spec: DocumentKindSpec) -> ExternalDocument:
    return ExternalDocument(
        system=SYSTEM, external_id=str(doc[spec.id_field]), number=xero_number(doc, spec), kind=spec.kind,
        total=str(parse_cents(doc["Total"])) if doc.get("Total") is not None else None,
        voided=doc.get("Status") == "VOIDED",
    )


def xero_total(invoice: Invoice) -> Decimal:
    return vendor_total(invoice)


def mismatch(invoice: Invoice, doc: dict[str, Any]) -> str | None:
    """Why a Xero document with our number is not ours (None when it is)."""
    spec = spec_for(invoice.kind)
    problems = []
    if doc.get("Type") != spec.xero_type:
        problems.append(f"type {doc.get('Type')}")
    contact = (doc.get("Contact") or {}).get("Name")
    if contact is not None and contact != invoice.account_name:
        problems.append(f"contact {contact!r}")
    if doc.get("CurrencyCode") not in (None, invoice.currency):
        problems.append(f"currency {doc.get('CurrencyCode')}")
    try:
        total = parse_cents(doc.get("Total"))
    except ArithmeticError:
        total = None
    if total != xero_total(invoice):
        problems.append(f"total {doc.get('Total')} (ours {xero_total(invoice)})")
    if not problems:
        return None
    return f"{spec.number_field} {xero_number(doc, spec)} already exists in Xero as another document: " + ", ".join(problems)


def validation_messages(item: dict[str, Any]) -> list[str]:
    return [str(v.get("Message", "")) for v in item.get("ValidationErrors") or []]


def has_errors(item: dict[str, Any]) -> bool:
    """xero_accounting.yaml: with summarizeErrors=false each element carries HasErrors (and
    StatusAttributeString ERROR, ValidationErrors) for itself."""
    return bool(item.get("HasErrors")) or bool(item.get("HasValidationErrors")) \
        or item.get("StatusAttributeString") == "ERROR" or bool(item.get("ValidationErrors"))


def is_duplicate_number(messages: list[str]) -> bool:
    return any("must be unique" in m.lower() for m in messages)
