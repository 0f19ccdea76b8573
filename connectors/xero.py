"""Xero Accounting API connector: one instance per (our tenant, Xero organisation) connection.

Writes are exactly-once on Xero's side by three layers:
- every write carries an `Idempotency-Key` derived from `operation_key(...)` and reused on
  every retry of that write (Xero replays the first answer);
- a write whose answer was lost (timeout, reset) is reconciled (documents looked up by
  number) before anything is resent;
- Xero rejects a second document with our number ("... # must be unique"): we look it up
  and return it when it is ours (same type, contact, currency, total), or fail permanently.

Request shape follows Xero's OpenAPI spec (xero_accounting.yaml): documents are written and
read with `unitdp=4` (without it Xero rounds UnitAmount to 2 decimals), written with
`summarizeErrors=false` (per-element errors flagged HasErrors), voided with the `Invoices` /
`CreditNotes` wrapper body, and attachments are sent as `application/octet-stream`.

Tenant-wide conditions raise instead of being reported per document: NeedsReauthorization
(grant revoked) and XeroDailyLimitReached (with `resume_at`), so the runner pauses that
tenant only; a later resubmission is reconciled and books nothing twice.
"""
from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from urllib.parse import quote

import httpx

from backoffice.model import DocumentKind, Invoice
from connectors.base import (
    ConnectorError, CustomerRef, ExternalDocument, NeedsReauthorization, OutgoingDocument, PermanentError,
    SyncOutcome, SyncStatus, TokenProvider, allocation_plan, operation_key,
)
from connectors.xero_http import (
    UnknownOutcome, XeroDailyLimitReached, XeroHttp, XeroLimits, XeroValidationError, error_message,
)
from connectors.xero_payload import (
    CREDIT_NOTES, INVOICES, DocumentKindSpec, XeroOptions, contact_payload, document_payload,
    external_document, has_errors, is_duplicate_number, mismatch, spec_for, validation_messages, where_equals,
    xero_number,
)

__all__ = ["XeroConnector", "XeroDailyLimitReached", "XeroLimits", "XeroOptions"]

TENANT_WIDE = (NeedsReauthorization, XeroDailyLimitReached)
_NAMES_PER_LOOKUP = 10          # contact names OR-ed into one where clause
_NUMBERS_PER_LOOKUP = 50
# xero_accounting.yaml, parameter unitdp: "e.g. unitdp=4 - (Unit Decimal Places) You can opt in to
# use four decimal places for unit amounts"; without it UnitAmount is rounded to 2 decimals.
UNIT_DP = {"unitdp": "4"}
WRITE_PARAMS = {"summarizeErrors": "false", **UNIT_DP}
# xero_accounting.yaml, PUT .../{FileName} Attachments: requestBody application/octet-stream
ATTACHMENT_CONTENT_TYPE = "application/octet-stream"

Result = ExternalDocument | ConnectorError


class XeroConnector:
    system = "xero"

    def __init__(self, base_url: str, xero_tenant_id: str, tenant_id: str, tokens: TokenProvider,
                 limits: XeroLimits | None = None, options: XeroOptions | None = None, *,
                 utcnow: Callable[[], dt.datetime] | None = None, transport: httpx.AsyncBaseTransport | None = None):
        self.xero_tenant_id = xero_tenant_id
        self.tenant_id = tenant_id
        self.limits = limits or XeroLimits()
        self.options = options or XeroOptions()
        self.http = XeroHttp(base_url, xero_tenant_id, tokens, self.limits, utcnow=utcnow, transport=transport)
        self._contacts: dict[str, CustomerRef] = {}
        self._contact_lock = asyncio.Lock()

    def _key(self, subject: str, operation: str) -> str:
        return operation_key(self.tenant_id, subject, operation)

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- contacts -------------------------------------------------------------------------

    async def find_or_create_customer(self, invoice: Invoice) -> CustomerRef:
        return (await self._resolve_contacts([invoice]))[invoice.account_name]

    async def _resolve_contacts(self, invoices: Sequence[Invoice]) -> dict[str, CustomerRef]:
        """Contacts by exact name: cached, then looked up (10 names per call), then created in one call."""
        async with self._contact_lock:
            wanted = {inv.account_name: inv for inv in invoices if inv.account_name not in self._contacts}
            if wanted:
                await self._lookup_contacts(list(wanted))
                missing = [inv for name, inv in wanted.items() if name not in self._contacts]
                if missing:
                    await self._create_contacts(missing)
            return {inv.account_name: self._contacts[inv.account_name] for inv in invoices}

    async def _lookup_contacts(self, names: list[str]) -> None:
        for start in range(0, len(names), _NAMES_PER_LOOKUP):
            chunk = names[start:start + _NAMES_PER_LOOKUP]
            body = await self.http.call("GET", "/Contacts", params={"where": where_equals("Name", chunk)})
            for contact in (body or {}).get("Contacts", []):
                if contact.get("Name") in chunk and contact.get("ContactStatus", "ACTIVE") != "ARCHIVED":
                    self._contacts[contact["Name"]] = CustomerRef(contact["ContactID"], contact["Name"])

    async def _create_contacts(self, invoices: list[Invoice]) -> None:
        names = sorted(inv.account_name for inv in invoices)
        key = self._key("\x1e".join(names), "contact-create")
        body = {"Contacts": [contact_payload(inv) for inv in invoices]}
        for _ in range(self.limits.unknown_outcome_rounds):
            try:
                answer = await self.http.call("PUT", "/Contacts", params={"summarizeErrors": "false"}, json=body, key=key)
                break
            except UnknownOutcome:
                await self._lookup_contacts(names)
                if all(n in self._contacts for n in names):
                    return
        else:
            raise ConnectorError(f"could not create Xero contacts {names}")
        failures = []
        for contact in answer.get("Contacts", []):
            if has_errors(contact):
                failures.append(f"{contact.get('Name')}: {'; '.join(validation_messages(contact))}")
            else:
                self._contacts[contact["Name"]] = CustomerRef(contact["ContactID"], contact["Name"])
        if failures:  # e.g. created meanwhile by someone else: look once more before giving up
            await self._lookup_contacts(names)
            if not all(n in self._contacts for n in names):
                raise PermanentError("Xero refused contacts: " + " | ".join(failures))

    # -- documents ------------------------------------------------------------------------

    async def create_invoice(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument:
        return _unwrap(await self._create_chunk(INVOICES, [doc], {doc.invoice.account_name: customer}),
                       doc.invoice.invoice_id)

    async def create_credit_memo(self, doc: OutgoingDocument, customer: CustomerRef) -> ExternalDocument:
        results = await self._create_chunk(CREDIT_NOTES, [doc], {doc.invoice.account_name: customer})
        external = _unwrap(results, doc.invoice.invoice_id)
        await self._allocate(doc, external)
        return external

    async def _create_chunk(self, spec: DocumentKindSpec, docs: Sequence[OutgoingDocument],
                            contacts: dict[str, CustomerRef]) -> dict[str, Result]:
        """Create up to batch_size documents in one call; every document gets a result."""
        results: dict[str, Result] = {}
        payloads = {}
        for d in docs:
            try:
                payloads[d.invoice.invoice_id] = document_payload(
                    d.invoice, contacts[d.invoice.account_name].external_id, self.options)
            except PermanentError as exc:           # this document only (a line Xero cannot hold)
                results[d.invoice.invoice_id] = exc
        # in id order: the Idempotency-Key names the set, so a resend after a restart (the same
        # documents consumed in another order) must carry the same body, or Xero's replayed
        # answer would be zipped onto the wrong documents
        pending = sorted((d for d in docs if d.invoice.invoice_id in payloads), key=lambda d: d.invoice.invoice_id)
        for _ in range(self.limits.unknown_outcome_rounds):
            if not pending:
                return results
            ids = ",".join(sorted(d.invoice.invoice_id for d in pending))
            body = {spec.collection: [payloads[d.invoice.invoice_id] for d in pending]}
            try:
                answer = await self.http.call("PUT", f"/{spec.collection}", params=WRITE_PARAMS,
                                              json=body, key=self._key(ids, f"create-{spec.collection}"))
            except UnknownOutcome:
                pending = await self._reconcile(spec, pending, results, refuse_missing=False)
                continue
            except XeroValidationError as exc:      # the whole request refused
                results.update({d.invoice.invoice_id: exc for d in pending})
                return results
            items = (answer or {}).get(spec.collection) or []
            if len(items) != len(pending):      # not the per-item answer we asked for: look before resending
                pending = await self._reconcile(spec, pending, results, refuse_missing=False)
                continue
            duplicates = []
            for doc, item in zip(pending, items, strict=True):     # Xero answers in request order
                messages = validation_messages(item)
                if not has_errors(item):
                    results[doc.invoice.invoice_id] = external_document(item, spec)
                elif is_duplicate_number(messages):
                    duplicates.append(doc)
                else:
                    results[doc.invoice.invoice_id] = PermanentError(
                        f"Xero refused {doc.invoice.number}: {'; '.join(messages) or 'validation error'}")
            await self._reconcile(spec, duplicates, results, refuse_missing=True)
            return results
        for doc in pending:
            results[doc.invoice.invoice_id] = ConnectorError(
                f"Xero outcome of {doc.invoice.number} still unknown after {self.limits.unknown_outcome_rounds} tries")
        return results

    async def _reconcile(self, spec: DocumentKindSpec, docs: Sequence[OutgoingDocument], results: dict[str, Result],
                         *, refuse_missing: bool) -> list[OutgoingDocument]:
        """Resolve documents by number; returns those Xero does not have."""
        if not docs:
            return []
        found = await self._lookup_numbers(spec, [d.invoice.number or d.invoice.invoice_id for d in docs])
        missing = []
        for doc in docs:
            theirs = found.get(doc.invoice.number or doc.invoice.invoice_id)
            if theirs is None:
                if refuse_missing:
                    results[doc.invoice.invoice_id] = PermanentError(
                        f"Xero says {doc.invoice.number} is taken but cannot find it")
                missing.append(doc)
                continue
            problem = mismatch(doc.invoice, theirs)
            results[doc.invoice.invoice_id] = PermanentError(problem) if problem else external_document(theirs, spec)
        return missing

    async def _lookup_numbers(self, spec: DocumentKindSpec, numbers: list[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        for start in range(0, len(numbers), _NUMBERS_PER_LOOKUP):
            chunk = numbers[start:start + _NUMBERS_PER_LOOKUP]
            if spec is INVOICES:
                params = {"InvoiceNumbers": ",".join(chunk), **UNIT_DP}
            else:
                params = {"where": where_equals("CreditNoteNumber", chunk), **UNIT_DP}
            body = await self.http.call("GET", f"/{spec.collection}", params=params)
            for doc in (body or {}).get(spec.collection, []):
                if doc.get("Type") == spec.xero_type and doc.get("Status") != "DELETED":
                    found[xero_number(doc, spec)] = doc
        return found

    async def find_by_number(self, kind: str, number: str) -> ExternalDocument | None:
        spec = spec_for(kind)
        doc = (await self._lookup_numbers(spec, [number])).get(number)
        return external_document(doc, spec) if doc else None

    # -- allocations, attachments, void ---------------------------------------------------

    async def _allocate(self, doc: OutgoingDocument, credit: ExternalDocument) -> None:
        plan = allocation_plan(doc)
        if not plan:
            return
        existing = await self.http.call("GET", f"/CreditNotes/{credit.external_id}", params=UNIT_DP)
        notes = (existing or {}).get("CreditNotes") or [{}]
        done = {(a.get("Invoice") or {}).get("InvoiceID") for a in notes[0].get("Allocations") or []}
        for invoice_id, amount in plan:
            if invoice_id in done:
                continue
            body = {"Allocations": [{"Amount": float(amount), "Invoice": {"InvoiceID": invoice_id},
                                     "Date": doc.invoice.issue_date.isoformat()}]}
            await self._write("PUT", f"/CreditNotes/{credit.external_id}/Allocations", json=body,
                              key=self._key(doc.invoice.invoice_id, f"allocate:{invoice_id}"))

    async def _write(self, method: str, path: str, *, key: str, **kwargs) -> object:
        """A write without a natural lookup: resend with the same Idempotency-Key (Xero replays)."""
        for _ in range(self.limits.unknown_outcome_rounds):
            try:
                return await self.http.call(method, path, key=key, **kwargs)
            except UnknownOutcome:
                continue
        raise ConnectorError(f"Xero {method} {path}: outcome still unknown")

    async def attach_pdf(self, external: ExternalDocument, name: str, pdf: bytes) -> None:
        spec = spec_for(external.kind)
        await self._write("PUT", f"/{spec.collection}/{external.external_id}/Attachments/{quote(name, safe='')}",
                          content=pdf, content_type=ATTACHMENT_CONTENT_TYPE,
                          key=self._key(external.external_id, f"attach:{name}"))

    async def void(self, external: ExternalDocument) -> ExternalDocument:
        spec = spec_for(external.kind)
        # the spec's body for POST /Invoices/{InvoiceID} (and CreditNotes) is the list wrapper
        body = await self._write("POST", f"/{spec.collection}/{external.external_id}", params=UNIT_DP,
                                 json={spec.collection: [{spec.id_field: external.external_id, "Status": "VOIDED"}]},
                                 key=self._key(external.external_id, "void"))
        return external_document(body[spec.collection][0], spec)

    # -- bulk -----------------------------------------------------------------------------

    async def sync_many(self, docs: list[OutgoingDocument]) -> list[SyncOutcome]:
        """Contacts, then invoices (50 per call), then credit notes, their allocations and every PDF."""
        contacts = await self._resolve_contacts([d.invoice for d in docs])
        results: dict[str, Result] = {}
        for spec in (INVOICES, CREDIT_NOTES):
            mine = [d for d in docs if spec_for(d.invoice.kind) is spec]
            size = self.limits.batch_size
            chunks = [mine[i:i + size] for i in range(0, len(mine), size)]
            for chunk_results in await _gather(self._create_chunk(spec, chunk, contacts) for chunk in chunks):
                results.update(chunk_results)
        followups = [self._follow_up(d, results[d.invoice.invoice_id]) for d in docs
                     if isinstance(results[d.invoice.invoice_id], ExternalDocument)]
        for invoice_id, error in await _gather(followups):
            if error is not None:
                results[invoice_id] = error
        return [_outcome(d, results[d.invoice.invoice_id]) for d in docs]

    async def _follow_up(self, doc: OutgoingDocument, external: ExternalDocument) -> tuple[str, ConnectorError | None]:
        try:
            if doc.invoice.kind is DocumentKind.CREDIT_MEMO:
                await self._allocate(doc, external)
            if doc.pdf is not None:
                await self.attach_pdf(external, doc.pdf_name or f"{external.number}.pdf", doc.pdf)
        except TENANT_WIDE:
            raise
        except ConnectorError as exc:
            return doc.invoice.invoice_id, _FollowUpFailed(external, exc)
        return doc.invoice.invoice_id, None


class _FollowUpFailed(ConnectorError):
    """The document exists in Xero but its allocation or attachment did not land (retry re-does it)."""

    def __init__(self, external: ExternalDocument, cause: ConnectorError):
        super().__init__(f"{external.number} booked as {external.external_id}, then: {cause}")
        self.external = external


async def _gather(coros) -> list:
    """Run concurrently (the tenant's semaphore caps the calls). Per-document faults come back
    as values; anything raised is tenant-wide (grant revoked, daily quota): stop the rest."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _unwrap(results: dict[str, Result], invoice_id: str) -> ExternalDocument:
    result = results[invoice_id]
    if isinstance(result, ConnectorError):
        raise result
    return result


def _outcome(doc: OutgoingDocument, result: Result) -> SyncOutcome:
    invoice_id = doc.invoice.invoice_id
    if isinstance(result, ExternalDocument):
        return SyncOutcome(invoice_id, SyncStatus.SYNCED, external=result)
    external = result.external if isinstance(result, _FollowUpFailed) else None
    return SyncOutcome(invoice_id, SyncStatus.FAILED, external=external, error=str(result) or error_message(result))

