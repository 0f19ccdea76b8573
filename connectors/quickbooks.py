"""QuickBooks Online (Accounting API v3) behind connectors.base.Connector, one realm each.

- Per-company choices come from the tenant's mapping (connectors.mapping.QboMapping, stored
  by `backoffice connect`): the income account of the items we create, the tax codes of
  taxable and exempt lines (TAX/NON exist in US companies only), items per line category.
- Documents: POST /invoice and /creditmemo (minorversion 75), `requestid` on every create
  (connectors.base.operation_key, <= 36 characters: the same on every retry), DocNumber =
  our number (<= 21 characters), lines as SalesItemLineDetail with ItemRef, Qty, UnitPrice,
  Amount, Description and the mapped TaxCodeRef. Our numbers are only kept when the company's
  "Custom transaction numbers" preference (Preferences.SalesFormsPrefs.CustomTxnNumbers) is
  on; otherwise QBO numbers documents itself (Intuit, Invoice.DocNumber), so the connector
  refuses that company with a message naming the setting. Credit memos carry positive
  amounts (QBO's convention; ours are negative); a linked credit memo names the invoice(s) it
  credits in PrivateNote (internal ids) and, by their printed numbers, in CustomerMemo (which
  prints on the customer's document), and is applied to them by a zero-amount Payment (QBO's documented way:
  Payment lines whose LinkedTxn name the Invoice and the CreditMemo), one per credited
  invoice, with its own `requestid` so a retry applies nothing twice.
- Customers by DisplayName through the query endpoint (quotes escaped) or created; items
  per line category likewise.
- Duplicate DocNumber (Fault 6140 or 6210) and any lost answer are reconciled by
  `select * from Invoice where DocNumber = '...'` before anything is created again: the
  found document is ours when customer and total agree; otherwise it is someone else's and
  the document fails (PermanentError) instead of being booked twice.
- Void: POST /invoice?operation=void with the current SyncToken (a stale token, Fault 5010,
  is re-fetched once). QBO cannot void a credit memo through the API: it is deleted. QBO
  refuses to void or delete a document a Payment links to, so the zero-amount Payments that
  applied a credit to it are deleted first (the credit returns to the memo, the balance to
  the invoice).
- Bulk: POST /batch with at most 10 items, at most 40 batches a minute (qbo_http), bId = the
  item's position ("b0".."b9": <= 10 characters), faults handled per item.
"""
from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from backoffice.model import DocumentKind, Invoice, LineCategory
from connectors.base import (
    ConnectorError, CustomerRef, ExternalDocument, OutgoingDocument, PermanentError, SyncOutcome, SyncStatus,
    TokenProvider, operation_key,
)
from connectors.mapping import MappingMissing, QboMapping
from connectors.qbo_http import DUPLICATE_NUMBERS, REQUESTID_MAX, STALE_OBJECT, QboFault, QboHttp, QboLimits, fault_of
from connectors.xero_http import UnknownOutcome
from connectors.xero_payload import allocation_amounts

ENTITY = {DocumentKind.INVOICE: "Invoice", DocumentKind.CREDIT_MEMO: "CreditMemo"}
ITEM_NAMES = {LineCategory.TIMESHEETS: "Timesheet hours", LineCategory.PRODUCTS_SERVICES: "Products & services"}


def quote(value: str) -> str:
    """A string literal of QBO's query language (single quotes escaped with a backslash)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _money(value: Decimal) -> float:
    return float(abs(value))


class QuickBooksConnector:
    system = "quickbooks"

    def __init__(self, base_url: str, realm_id: str, tenant_id: str, tokens: TokenProvider,
                 limits: QboLimits | None = None, *, mapping: QboMapping, transport=None) -> None:
        self.realm_id, self.tenant_id = realm_id, tenant_id
        self.limits = limits or QboLimits()
        self.mapping = mapping
        self._numbers_checked = False
        self.http = QboHttp(base_url, realm_id, tokens, self.limits, transport)
        self._customers: dict[str, CustomerRef] = {}
        self._items: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()

    def _key(self, subject: str, operation: str) -> str:
        return operation_key(self.tenant_id, subject, f"qbo-{operation}", limit=REQUESTID_MAX)

    async def _require_custom_numbers(self) -> None:
        """QBO keeps our DocNumber only with Custom transaction numbers on; read once per connector."""
        if self._numbers_checked:
            return
        body = await self.http.call("GET", "/query", params={"query": "select * from Preferences"})
        prefs = ((body or {}).get("QueryResponse", {}).get("Preferences") or [{}])[0]
        if not (prefs.get("SalesFormsPrefs") or {}).get("CustomTxnNumbers", False):
            raise MappingMissing("quickbooks", self.tenant_id, "custom_transaction_numbers",
                                 "the company preference SalesFormsPrefs.CustomTxnNumbers is off, so QuickBooks "
                                 "would renumber every document",
                                 "turn on Account and settings > Sales > Custom transaction numbers in QuickBooks; "
                                 "the tenant resumes by itself once it is on")
        self._numbers_checked = True

    async def _query(self, entity: str, field: str, value: str) -> list[dict]:
        body = await self.http.call("GET", "/query", params={
            "query": f"select * from {entity} where {field} = {quote(value)}"})
        return (body or {}).get("QueryResponse", {}).get(entity, [])

    # -- reference data ------------------------------------------------------------------------
    async def find_or_create_customer(self, invoice: Invoice) -> CustomerRef:
        name = invoice.account_name[:100]
        async with self._lock:
            if name in self._customers:
                return self._customers[name]
            found = await self._query("Customer", "DisplayName", name)
            if found:
                ref = CustomerRef(found[0]["Id"], name)
            else:
                data = {"DisplayName": name}
                if invoice.bill_to_contact and invoice.bill_to_contact.email:
                    data["PrimaryEmailAddr"] = {"Address": invoice.bill_to_contact.email}
                body = await self._create_reconciled("/customer", data, self._key(name, "customer"),
                                                     lambda: self._query("Customer", "DisplayName", name))
                ref = CustomerRef(body["Id"], name)
            self._customers[name] = ref
            return ref

    async def _item(self, category: LineCategory) -> str:
        mapped = self.mapping.items.get(category.value)
        if mapped:
            return mapped
        name = ITEM_NAMES[category]
        if name not in self._items:
            found = await self._query("Item", "Name", name)
            if found:
                self._items[name] = found[0]["Id"]
            else:
                body = await self._create_reconciled(
                    "/item", {"Name": name, "Type": "Service", "IncomeAccountRef": {"value": self.mapping.income_account}},
                    self._key(name, "item"), lambda: self._query("Item", "Name", name))
                self._items[name] = body["Id"]
        return self._items[name]

    async def _create_reconciled(self, path: str, data: dict, requestid: str, lookup) -> dict:
        try:
            body = await self.http.call("POST", path, json=data, requestid=requestid)
            return next(iter(body.values()))
        except UnknownOutcome:
            found = await lookup()
            if found:
                return found[0]
            body = await self.http.call("POST", path, json=data, requestid=requestid)
            return next(iter(body.values()))

    # -- documents -----------------------------------------------------------------------------
    async def _payload(self, doc: OutgoingDocument, customer: CustomerRef) -> dict:
        inv = doc.invoice
        if not inv.number or len(inv.number) > 21:
            raise PermanentError(f"document number {inv.number!r} does not fit QuickBooks' DocNumber (1-21 chars)")
        lines = []
        for ln in inv.lines:
            lines.append({"DetailType": "SalesItemLineDetail", "Amount": _money(ln.amount),
                          "Description": ln.description[:4000],
                          "SalesItemLineDetail": {"ItemRef": {"value": await self._item(ln.category)},
                                                  "Qty": float(abs(ln.quantity)), "UnitPrice": _money(ln.rate),
                                                  "TaxCodeRef": {"value": self._tax_code(ln.taxable)}}})
        note = f"backoffice {inv.invoice_id}"
        credited = sorted({ln.credited_invoice_id for ln in inv.lines if ln.credited_invoice_id})
        payload = {"DocNumber": inv.number, "TxnDate": inv.issue_date.isoformat(), "CustomerRef": {"value":
                   customer.external_id}, "CurrencyRef": {"value": inv.currency}, "Line": lines,
                   "TxnTaxDetail": {"TotalTax": _money(inv.tax)}}
        if inv.kind is DocumentKind.INVOICE:
            payload["DueDate"] = inv.due_date.isoformat()
        if inv.bill_to_contact and inv.bill_to_contact.email:
            payload["BillEmail"] = {"Address": inv.bill_to_contact.email}
        if credited:
            note += " credits " + ", ".join(credited)
        if doc.credited_numbers:        # printed on the customer's copy: our printed numbers, never ids
            label = "invoice" if len(doc.credited_numbers) == 1 else "invoices"
            payload["CustomerMemo"] = {"value": f"Credit for {label} {', '.join(doc.credited_numbers)}"[:1000]}
        payload["PrivateNote"] = note[:4000]
        return payload

    def _tax_code(self, taxable: bool) -> str:
        return self.mapping.taxable_tax_code if taxable else self.mapping.exempt_tax_code

    def _external(self, kind: DocumentKind, body: dict) -> ExternalDocument:
        return ExternalDocument(self.system, body["Id"], body.get("DocNumber", ""), kind.value,
                                str(body.get("TotalAmt")), body.get("SyncToken"), body.get("PrivateNote") == "Voided")

    def _matches(self, found: dict, doc: OutgoingDocument, customer: CustomerRef) -> bool:
        return (found.get("CustomerRef", {}).get("value") == customer.external_id and
                Decimal(str(found.get("TotalAmt", "0"))).quantize(Decimal("0.01")) == abs(doc.invoice.total))

    async def _reconcile(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument | None:
        kind = doc.invoice.kind
        for found in await self._query(ENTITY[kind], "DocNumber", doc.invoice.number):
            if self._matches(found, doc, customer):
                return self._external(kind, found)
            raise PermanentError(f"QuickBooks already has {ENTITY[kind]} {doc.invoice.number} for another "
                                 f"customer or amount: not booking a second one")
        return None

    async def _create(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument:
        kind = doc.invoice.kind
        path, key = f"/{ENTITY[kind].lower()}", self._key(doc.invoice.invoice_id, "create")
        payload = await self._payload(doc, customer)
        for _ in range(4):
            try:
                body = await self.http.call("POST", path, json=payload, requestid=key)
                return self._external(kind, body[ENTITY[kind]])
            except QboFault as fault:
                if fault.code not in DUPLICATE_NUMBERS:
                    raise
                found = await self._reconcile(doc, customer)
                if found is not None:
                    return found
                raise
            except UnknownOutcome:
                found = await self._reconcile(doc, customer)
                if found is not None:
                    return found
        raise ConnectorError(f"QuickBooks: outcome of {doc.invoice.number} still unknown")

    async def create_invoice(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument:
        await self._require_custom_numbers()
        return await self._create(doc, customer)

    async def create_credit_memo(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument:
        await self._require_custom_numbers()
        memo = await self._create(doc, customer)
        await self.apply_credit(doc, memo, customer)
        return memo

    async def apply_credit(self, doc: OutgoingDocument, memo: ExternalDocument, customer: CustomerRef) -> None:
        """Allocate a linked credit memo: a Payment of 0 whose lines link the invoice and the memo."""
        for invoice_ext, amount in allocation_amounts(doc.invoice, doc.credited_external_ids):
            data = {"CustomerRef": {"value": customer.external_id}, "TotalAmt": 0,
                    "TxnDate": doc.invoice.issue_date.isoformat(),
                    "PrivateNote": f"backoffice {doc.invoice.invoice_id} applies {doc.invoice.number}",
                    "Line": [{"Amount": float(amount), "LinkedTxn": [{"TxnId": invoice_ext, "TxnType": "Invoice"}]},
                             {"Amount": float(amount), "LinkedTxn": [{"TxnId": memo.external_id,
                                                                      "TxnType": "CreditMemo"}]}]}
            await self._create_reconciled("/payment", data, self._key(f"{doc.invoice.invoice_id}>{invoice_ext}",
                                                                      "apply"), _nothing_found)

    async def attach_pdf(self, external: ExternalDocument, name: str, pdf: bytes) -> None:
        entity = "CreditMemo" if external.kind == DocumentKind.CREDIT_MEMO.value else "Invoice"
        meta = {"AttachableRef": [{"EntityRef": {"type": entity, "value": external.external_id}}],
                "FileName": name, "ContentType": "application/pdf"}
        files = {"file_metadata_0": ("metadata.json", json.dumps(meta), "application/json"),
                 "file_content_0": (name, pdf, "application/pdf")}
        try:
            await self.http.call("POST", "/upload", files=files,
                                 requestid=self._key(external.external_id + name, "attach"))
        except UnknownOutcome:      # the same requestid again: QBO answers the first result
            await self.http.call("POST", "/upload", files=files,
                                 requestid=self._key(external.external_id + name, "attach"))

    async def void(self, external: ExternalDocument) -> ExternalDocument:
        entity = "CreditMemo" if external.kind == DocumentKind.CREDIT_MEMO.value else "Invoice"
        operation = "delete" if entity == "CreditMemo" else "void"
        token = external.version_token
        if await self._unlink_payments(entity, external.external_id) or token is None:
            token = (await self.http.call("GET", f"/{entity.lower()}/{external.external_id}"))[entity]["SyncToken"]
        for attempt in range(2):
            try:
                body = await self.http.call("POST", f"/{entity.lower()}", params={"operation": operation},
                                            json={"Id": external.external_id, "SyncToken": token or "0"},
                                            requestid=self._key(f"{external.external_id}@{token}", operation))
                result = body.get(entity) or {}
                return ExternalDocument(self.system, external.external_id, external.number, external.kind,
                                        external.total, result.get("SyncToken"), True)
            except QboFault as fault:
                if fault.code != STALE_OBJECT or attempt:
                    raise
                current = await self.http.call("GET", f"/{entity.lower()}/{external.external_id}")
                token = current[entity]["SyncToken"]
        raise AssertionError("unreachable")

    async def _unlink_payments(self, entity: str, doc_id: str) -> bool:
        """Delete the Payments that link `doc_id` (our credit applications); True if any was."""
        current = (await self.http.call("GET", f"/{entity.lower()}/{doc_id}"))[entity]
        customer = (current.get("CustomerRef") or {}).get("value")
        if not customer:
            return False
        linking = [p for p in await self._query("Payment", "CustomerRef", str(customer))
                   if any(str(link.get("TxnId")) == doc_id and link.get("TxnType") == entity
                          for line in p.get("Line", []) for link in line.get("LinkedTxn", []))]
        for payment in linking:
            await self.http.call("POST", "/payment", params={"operation": "delete"},
                                 json={"Id": payment["Id"], "SyncToken": payment["SyncToken"]},
                                 requestid=self._key(f"{payment['Id']}@{payment['SyncToken']}", "unlink"))
        return bool(linking)

    async def find_by_number(self, kind: str, number: str) -> ExternalDocument | None:
        k = DocumentKind(kind)
        found = await self._query(ENTITY[k], "DocNumber", number)
        return self._external(k, found[0]) if found else None

    # -- bulk ----------------------------------------------------------------------------------
    async def sync_many(self, docs: list[OutgoingDocument]) -> list[SyncOutcome]:
        await self._require_custom_numbers()
        customers = {}
        for doc in docs:
            customers[doc.invoice.invoice_id] = await self.find_or_create_customer(doc.invoice)
        results: dict[str, Any] = {}
        size = self.limits.batch_size
        chunks = [docs[i:i + size] for i in range(0, len(docs), size)]
        for chunk_results in await asyncio.gather(*(self._batch(c, customers) for c in chunks)):
            results.update(chunk_results)
        await asyncio.gather(*(self._attach(d, results) for d in docs if d.pdf is not None))
        await asyncio.gather(*(self._apply(d, results, customers) for d in docs if d.credited_external_ids))
        return [SyncOutcome(d.invoice.invoice_id, SyncStatus.SYNCED, external=results[d.invoice.invoice_id])
                if isinstance(results[d.invoice.invoice_id], ExternalDocument) else
                SyncOutcome(d.invoice.invoice_id, SyncStatus.FAILED, error=str(results[d.invoice.invoice_id]))
                for d in docs]

    async def _attach(self, doc: OutgoingDocument, results: dict) -> None:
        external = results[doc.invoice.invoice_id]
        if isinstance(external, ExternalDocument):
            try:
                await self.attach_pdf(external, doc.pdf_name or f"{external.number}.pdf", doc.pdf)
            except PermanentError as exc:
                results[doc.invoice.invoice_id] = exc

    async def _apply(self, doc: OutgoingDocument, results: dict, customers: dict) -> None:
        memo = results[doc.invoice.invoice_id]
        if isinstance(memo, ExternalDocument):
            try:
                await self.apply_credit(doc, memo, customers[doc.invoice.invoice_id])
            except PermanentError as exc:
                results[doc.invoice.invoice_id] = exc

    async def _batch(self, chunk: list[OutgoingDocument], customers: dict) -> dict[str, Any]:
        items, out, sent = [], {}, []
        for doc in chunk:
            try:
                payload = await self._payload(doc, customers[doc.invoice.invoice_id])
            except PermanentError as exc:          # this document only
                out[doc.invoice.invoice_id] = exc
                continue
            # bId: the position in this batch (Intuit: <= 10 characters when a requestid is given)
            items.append({"bId": f"b{len(sent)}", "operation": "create", ENTITY[doc.invoice.kind]: payload})
            sent.append(doc)
        chunk = sent
        if not chunk:
            return out
        key = self._key("|".join(d.invoice.invoice_id for d in chunk), "batch")
        try:
            body = await self.http.call("POST", "/batch", json={"BatchItemRequest": items}, requestid=key)
        except UnknownOutcome:
            body = {"BatchItemResponse": [{"bId": f"b{i}", "Fault": {"Error": [{"code": "unknown"}]}}
                                          for i in range(len(chunk))]}
        except QboFault as fault:                  # the whole request refused (a Fault, even under HTTP 200)
            return {**out, **{d.invoice.invoice_id: fault for d in chunk}}
        answers = {r.get("bId"): r for r in (body or {}).get("BatchItemResponse", [])}
        for position, doc in enumerate(chunk):
            answer = answers.get(f"b{position}", {})
            entity = ENTITY[doc.invoice.kind]
            if entity in answer:
                out[doc.invoice.invoice_id] = self._external(doc.invoice.kind, answer[entity])
                continue
            code = (fault_of(answer) or ("unknown", ""))[0]
            try:
                if code in DUPLICATE_NUMBERS or code == "unknown":     # maybe ours already: look before creating
                    found = await self._reconcile(doc, customers[doc.invoice.invoice_id])
                    out[doc.invoice.invoice_id] = found or await self._create(doc, customers[doc.invoice.invoice_id])
                else:
                    out[doc.invoice.invoice_id] = QboFault(code, (fault_of(answer) or ("", ""))[1], answer)
            except PermanentError as exc:
                out[doc.invoice.invoice_id] = exc
        return out


async def _nothing_found() -> list:
    """A Payment has no number to look up: an unknown outcome is resent with the same requestid."""
    return []
