"""The books of one Xero organisation in the loopback Xero (tests/connectors/xero_server.py).

Documented Xero behaviours reproduced here (what the connector relies on):
- invoice/credit note numbers are unique per organisation: a second one gets the
  validation error "Invoice # must be unique." / "Credit Note # must be unique.";
- LineAmount must equal Quantity x UnitAmount (half-up to the cent); AccountCode and TaxType
  must exist; a line's TaxAmount overrides the tax computed from its TaxType's rate;
- credit notes carry positive amounts; an allocation may not exceed the credit note's
  RemainingCredit nor the invoice's AmountDue, and needs the same contact;
- contact names are unique; `where` supports `Field=="literal"` joined by OR / ||, with
  C#-style escapes inside literals;
- uploading an attachment under an existing file name replaces it.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
KINDS = {
    "Invoices": ("ACCREC", "InvoiceID", "InvoiceNumber", "Invoice #"),
    "CreditNotes": ("ACCRECCREDIT", "CreditNoteID", "CreditNoteNumber", "Credit Note #"),
}
_CLAUSE = re.compile(r'\s*(\w+)\s*==\s*"((?:[^"\\]|\\.)*)"\s*')
_JOIN = re.compile(r"\s*(OR|\|\|)\s*")


class Invalid(Exception):
    """A validation failure: HTTP 400 with Xero's ValidationException body."""


def parse_where(where: str) -> list[tuple[str, str]]:
    """`Name=="a" OR Name=="b"` -> [("Name", "a"), ("Name", "b")]; anything else is refused."""
    clauses, pos = [], 0
    while True:
        match = _CLAUSE.match(where, pos)
        if not match:
            raise Invalid(f"unsupported where clause: {where!r}")
        clauses.append((match.group(1), re.sub(r"\\(.)", r"\1", match.group(2))))
        pos = match.end()
        if pos == len(where):
            return clauses
        join = _JOIN.match(where, pos)
        if not join:
            raise Invalid(f"unsupported where clause: {where!r}")
        pos = join.end()


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Book:
    accounts: frozenset[str] = frozenset({"200", "260"})
    tax_rates: dict[str, Decimal] = field(default_factory=lambda: {"OUTPUT": Decimal("0.0625"), "NONE": Decimal(0)})
    contacts: dict[str, dict] = field(default_factory=dict)
    documents: dict[str, dict[str, dict]] = field(default_factory=lambda: {"Invoices": {}, "CreditNotes": {}})
    allocations: list[dict] = field(default_factory=list)
    attachments: dict[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    rejections: dict[str, str] = field(default_factory=dict)     # number -> injected validation message

    # -- contacts --------------------------------------------------------------------------

    def find_contacts(self, where: str | None) -> list[dict]:
        if not where:
            return list(self.contacts.values())
        clauses = parse_where(where)
        return [c for c in self.contacts.values() if any(str(c.get(f)) == v for f, v in clauses)]

    def create_contact(self, data: dict) -> dict:
        name = str(data.get("Name") or "").strip()
        if not name:
            raise Invalid("The contact name must be specified.")
        if any(c["Name"] == name for c in self.contacts.values()):
            raise Invalid(f"The contact name {name} is already assigned to another contact. "
                          "The contact name must be unique across all active contacts.")
        contact = {**data, "Name": name, "ContactID": str(uuid.uuid4()), "ContactStatus": "ACTIVE"}
        self.contacts[contact["ContactID"]] = contact
        return contact

    # -- documents -------------------------------------------------------------------------

    def find_documents(self, collection: str, *, numbers: list[str] | None = None, ids: list[str] | None = None,
                       where: str | None = None) -> list[dict]:
        _, id_field, number_field, _ = KINDS[collection]
        docs = list(self.documents[collection].values())
        if numbers is not None:
            docs = [d for d in docs if d[number_field] in numbers]
        if ids is not None:
            docs = [d for d in docs if d[id_field] in ids]
        if where:
            clauses = parse_where(where)
            docs = [d for d in docs if any(str(d.get(f)) == v for f, v in clauses)]
        return docs

    def create_document(self, collection: str, data: dict, numbers_in_request: set[str]) -> dict:
        xero_type, id_field, number_field, label = KINDS[collection]
        if data.get("Type") != xero_type:
            raise Invalid(f"Type must be {xero_type} for {collection}.")
        contact = self._contact_of(data.get("Contact") or {})
        number = str(data.get(number_field) or "")
        if not number:
            raise Invalid(f"{label} must be specified.")
        if number in self.rejections:
            raise Invalid(self.rejections[number])
        taken = {d[number_field] for d in self.documents[collection].values()}
        if number in taken or number in numbers_in_request:
            raise Invalid(f"{label} must be unique.")
        lines = [self._line(item) for item in data.get("LineItems") or []]
        if not lines:
            raise Invalid("At least one line item is required.")
        subtotal = sum((ln["LineAmount"] for ln in lines), Decimal("0"))
        tax = sum((ln["TaxAmount"] for ln in lines), Decimal("0"))
        if collection == "CreditNotes" and subtotal + tax < 0:
            raise Invalid("Credit notes carry positive totals.")
        doc = {
            "Type": xero_type, id_field: str(uuid.uuid4()), number_field: number,
            "Contact": {"ContactID": contact["ContactID"], "Name": contact["Name"]},
            "Date": data.get("Date"), "DueDate": data.get("DueDate"), "Reference": data.get("Reference", ""),
            "CurrencyCode": data.get("CurrencyCode", "USD"), "Status": data.get("Status", "DRAFT"),
            "LineAmountTypes": data.get("LineAmountTypes", "Exclusive"), "LineItems": lines,
            "SubTotal": subtotal, "TotalTax": tax, "Total": subtotal + tax, "HasAttachments": False,
        }
        if collection == "Invoices":
            doc.update(AmountDue=doc["Total"], AmountPaid=Decimal(0), AmountCredited=Decimal(0))
        else:
            doc.update(RemainingCredit=doc["Total"], Allocations=[])
        self.documents[collection][doc[id_field]] = doc
        return doc

    def _contact_of(self, ref: dict) -> dict:
        contact = self.contacts.get(str(ref.get("ContactID")))
        if contact is None:
            raise Invalid("The contact specified could not be found.")
        return contact

    def _line(self, item: dict) -> dict:
        quantity = Decimal(str(item.get("Quantity", 1)))
        unit = Decimal(str(item.get("UnitAmount", 0)))
        amount = cents(quantity * unit)
        if "LineAmount" in item and Decimal(str(item["LineAmount"])) != amount:
            raise Invalid(f"The line total {item['LineAmount']} does not match the expected line total {amount}.")
        if str(item.get("AccountCode")) not in self.accounts:
            raise Invalid(f"Account code '{item.get('AccountCode')}' is not a valid code for this document.")
        tax_type = str(item.get("TaxType"))
        if tax_type not in self.tax_rates:
            raise Invalid(f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction.")
        tax = Decimal(str(item["TaxAmount"])) if "TaxAmount" in item else cents(amount * self.tax_rates[tax_type])
        return {"LineItemID": str(uuid.uuid4()), "Description": item.get("Description", ""), "Quantity": quantity,
                "UnitAmount": unit, "LineAmount": amount, "AccountCode": item.get("AccountCode"),
                "TaxType": tax_type, "TaxAmount": tax}

    def document(self, collection: str, doc_id: str) -> dict:
        doc = self.documents[collection].get(doc_id)
        if doc is None:
            raise KeyError(doc_id)
        return doc

    def void(self, collection: str, doc_id: str) -> dict:
        doc = self.document(collection, doc_id)
        if doc["Status"] not in ("AUTHORISED", "SUBMITTED", "VOIDED"):
            raise Invalid(f"Document of status {doc['Status']} cannot be voided.")
        credited = doc.get("AmountCredited", 0) or (doc.get("Total") - doc.get("RemainingCredit", doc.get("Total")))
        if credited:
            raise Invalid("This document has allocations or payments: remove them before voiding.")
        doc["Status"] = "VOIDED"
        return doc

    def allocate(self, credit_note_id: str, allocation: dict) -> dict:
        note = self.document("CreditNotes", credit_note_id)
        invoice = self.documents["Invoices"].get(str((allocation.get("Invoice") or {}).get("InvoiceID")))
        if invoice is None:
            raise Invalid("Invoice could not be found.")
        amount = Decimal(str(allocation.get("Amount", 0)))
        if note["Status"] != "AUTHORISED" or invoice["Status"] != "AUTHORISED":
            raise Invalid("Both documents must be AUTHORISED to allocate.")
        if invoice["Contact"]["ContactID"] != note["Contact"]["ContactID"]:
            raise Invalid("The credit note and the invoice must belong to the same contact.")
        if amount <= 0 or amount > note["RemainingCredit"] or amount > invoice["AmountDue"]:
            raise Invalid(f"Allocation amount {amount} exceeds the remaining credit or the amount due.")
        note["RemainingCredit"] -= amount
        invoice["AmountDue"] -= amount
        invoice["AmountCredited"] += amount
        for doc, left in ((note, note["RemainingCredit"]), (invoice, invoice["AmountDue"])):
            if left == 0:
                doc["Status"] = "PAID"
        record = {"AllocationID": str(uuid.uuid4()), "Amount": amount, "Date": allocation.get("Date"),
                  "Invoice": {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice["InvoiceNumber"]},
                  "CreditNote": {"CreditNoteID": credit_note_id}}
        note["Allocations"].append(record)
        self.allocations.append(record)
        return record

    def attach(self, collection: str, doc_id: str, file_name: str, mime: str, data: bytes) -> dict:
        doc = self.document(collection, doc_id)
        self.attachments[(doc_id, file_name)] = (mime, data)
        doc["HasAttachments"] = True
        return {"AttachmentID": str(uuid.uuid5(uuid.NAMESPACE_URL, doc_id + "/" + file_name)), "FileName": file_name,
                "MimeType": mime, "ContentLength": len(data)}
