"""Our documents in Xero's shapes, and Xero's answers back in ours.

Signs: our credit memos carry negative lines and totals; Xero credit notes
(Type ACCRECCREDIT) carry positive amounts, so every credit memo amount is negated on the
way out and compared negated on the way back.

Tax: Xero computes tax per line from the line's TaxType unless the line says its
TaxAmount. We send our document's tax spread over its taxable lines (largest remainder, to
the cent), so Xero's TotalTax and Total equal ours exactly whatever rate the org's OUTPUT
tax type carries.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from backoffice.model import DocumentKind, Invoice, InvoiceLine
from backoffice.money import round_cents
from connectors.base import ExternalDocument

CENT = Decimal("0.01")
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
    sign: Decimal           # ours -> Xero's


INVOICES = DocumentKindSpec("INVOICE", "ACCREC", "Invoices", "InvoiceID", "InvoiceNumber", Decimal(1))
CREDIT_NOTES = DocumentKindSpec("CREDIT_MEMO", "ACCRECCREDIT", "CreditNotes", "CreditNoteID", "CreditNoteNumber",
                                Decimal(-1))


def spec_for(kind: DocumentKind | str) -> DocumentKindSpec:
    return CREDIT_NOTES if str(kind) == DocumentKind.CREDIT_MEMO.value else INVOICES


def xero_literal(value: str) -> str:
    """A string literal for a `where` clause: backslashes and double quotes escaped C#-style."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def where_equals(field: str, values: Iterable[str]) -> str:
    """`Name=="a" OR Name=="b"`."""
    return " OR ".join(f"{field}=={xero_literal(v)}" for v in values)


def spread_tax(lines: Sequence[InvoiceLine], tax: Decimal) -> list[Decimal]:
    """Split `tax` over the taxable lines in proportion to their amounts, summing exactly."""
    taxable = [i for i, ln in enumerate(lines) if ln.taxable]
    shares = [Decimal("0.00")] * len(lines)
    base = sum((lines[i].amount for i in taxable), Decimal("0"))
    if not taxable or tax == 0:
        return shares
    if base == 0:
        shares[taxable[0]] = tax
        return shares
    exact = {i: tax * lines[i].amount / base for i in taxable}
    for i in taxable:
        shares[i] = exact[i].quantize(CENT, rounding="ROUND_DOWN")
    leftover = int((tax - sum(shares, Decimal("0"))) / CENT)
    step = CENT if leftover >= 0 else -CENT
    by_remainder = sorted(taxable, key=lambda i: abs(exact[i] - shares[i]), reverse=True)
    for n in range(abs(leftover)):
        shares[by_remainder[n % len(by_remainder)]] += step
    return shares


def _number(value: Decimal) -> float:
    """JSON number for Xero. Exact: a float's repr round-trips every decimal of <= 15 digits."""
    return float(value)


def line_items(invoice: Invoice, options: XeroOptions) -> list[dict[str, Any]]:
    sign = spec_for(invoice.kind).sign
    taxes = spread_tax(invoice.lines, invoice.tax)
    items = []
    for line, tax in zip(invoice.lines, taxes, strict=True):
        amount = line.amount * sign
        unit = abs(line.rate) if amount >= 0 else -abs(line.rate)
        items.append({
            "Description": line.description,
            "Quantity": _number(abs(line.quantity)),
            "UnitAmount": _number(unit),
            "LineAmount": _number(round_cents(amount)),
            "AccountCode": options.account_code,
            "TaxType": options.taxable_tax_type if line.taxable else options.exempt_tax_type,
            "TaxAmount": _number(round_cents(tax * sign)),
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
        total=str(round_cents(Decimal(str(doc["Total"])))) if doc.get("Total") is not None else None,
        voided=doc.get("Status") == "VOIDED",
    )


def xero_total(invoice: Invoice) -> Decimal:
    return round_cents(invoice.total * spec_for(invoice.kind).sign)


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
        total = round_cents(Decimal(str(doc.get("Total"))))
    except ArithmeticError:
        total = None
    if total != xero_total(invoice):
        problems.append(f"total {doc.get('Total')} (ours {xero_total(invoice)})")
    if not problems:
        return None
    return f"{spec.number_field} {xero_number(doc, spec)} already exists in Xero as another document: " + ", ".join(problems)


def allocation_amounts(invoice: Invoice, credited_external_ids: Sequence[str]) -> list[tuple[str, Decimal]]:
    """How much of a credit note goes to each credited Xero invoice (positive amounts).

    Lines name the invoice they credit (credited_invoice_id); the runner passes the Xero
    ids in the order those ids first appear. With one credited invoice (or ids that do not
    line up with the lines) the whole credit goes to the first."""
    if not credited_external_ids:
        return []
    taxes = spread_tax(invoice.lines, invoice.tax)
    groups: dict[str, Decimal] = {}
    for line, tax in zip(invoice.lines, taxes, strict=True):
        if line.credited_invoice_id:
            groups[line.credited_invoice_id] = groups.get(line.credited_invoice_id, Decimal("0")) + line.amount + tax
    total = abs(xero_total(invoice))
    if len(groups) == len(credited_external_ids) and len(groups) > 1:
        return [(ext, round_cents(abs(amount))) for ext, amount in zip(credited_external_ids, groups.values())
                if amount != 0]
    return [(credited_external_ids[0], total)] if total else []


def validation_messages(item: dict[str, Any]) -> list[str]:
    return [str(v.get("Message", "")) for v in item.get("ValidationErrors") or []]


def has_errors(item: dict[str, Any]) -> bool:
    """xero_accounting.yaml: with summarizeErrors=false each element carries HasErrors (and
    StatusAttributeString ERROR, ValidationErrors) for itself."""
    return bool(item.get("HasErrors")) or bool(item.get("HasValidationErrors")) \
        or item.get("StatusAttributeString") == "ERROR" or bool(item.get("ValidationErrors"))


def is_duplicate_number(messages: list[str]) -> bool:
    return any("must be unique" in m.lower() for m in messages)
