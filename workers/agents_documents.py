"""Invoices and credit memos, keyed by invoice id: one owner per document, so its status
changes on billing.invoices are emitted in order, each with a new version."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

from backoffice import lifecycle
from backoffice.model import DocumentStatus, Invoice, InvoicingMode, Placement
from infra.settings import load_settings
from ops import metrics
from ops.logs import log_context
from schemas.codec import encode
from schemas.mapping import invoice_to_record
from workers import clock
from workers.app import app
from workers.guard import failure_stops_worker, injected_fault
from workers.consolidate_logic import consolidate, settlements
from workers.emit import send_outcome, send_settles
from workers.messages import DocumentCommand, LineCommand
from workers.partitioning import partition_for
from workers.topology import P, document_commands, invoices, invoices_out, ledger_commands

log = logging.getLogger(__name__)
INVOICE_SIZE = load_settings().invoice_size()     # a Consolidate may not grow an invoice past it


@dataclass(frozen=True, slots=True)
class InvoiceRecord:
    invoice: Invoice
    history: tuple[tuple[str, str, str], ...] = ()     # (status, at ISO, detail)
    document_uris: tuple[str, ...] = ()
    document_sha256: tuple[str, ...] = ()
    error: str | None = None
    #: what the timesheet report is drawn from (carried here: the placements' ledgers live elsewhere)
    report_placements: tuple[Placement, ...] = ()
    report_approvals: tuple[bytes, ...] = ()


async def emit_invoice(record: InvoiceRecord, event_type: str) -> None:
    inv = record.invoice
    value = encode("InvoiceEvent", invoice_to_record(
        inv, event_id=f"{inv.invoice_id}:{inv.version}:{event_type}", event_type=event_type,
        occurred_at=clock.now(), document_uris=record.document_uris, sha256=record.document_sha256,
        error=record.error))
    await invoices_out.send(key=inv.invoice_id.encode(), value=value)


def _with(record: InvoiceRecord, invoice: Invoice, detail: str = "", **kw) -> InvoiceRecord:
    entry = (invoice.status.value, clock.now().isoformat(), detail)
    return replace(record, invoice=invoice, history=record.history + (entry,), **kw)


async def _delivery(record: InvoiceRecord, msg: DocumentCommand) -> tuple[InvoiceRecord, str]:
    """Record / send through the documents service, off the event loop (rendering is CPU-bound)."""
    from workers.delivery import delivery_service, report_inputs

    service = delivery_service()
    inv = record.invoice
    loop = asyncio.get_running_loop()
    if msg.action == "RECORD" or (msg.action == "AUTOMATIC" and inv.status is DocumentStatus.NEW):
        placements, approvals = report_inputs(inv, record.report_placements, record.report_approvals)
        with metrics.RENDER_SECONDS.time():
            result = await loop.run_in_executor(None, lambda: service.record(
                inv, msg.template, placements=placements, approvals=approvals))
        metrics.DOCUMENTS_RENDERED.labels(inv.kind.value).inc(len(result.uris))
        record = _with(record, result.invoice, f"recorded with {result.invoice.template}",
                       document_uris=result.uris, document_sha256=result.sha256s, error=None)
        await emit_invoice(record, "RECORDED")
        invoices[inv.invoice_id.encode()] = record      # kept even if the send that follows fails
        inv = record.invoice
    if msg.action in ("SEND", "AUTOMATIC"):
        result = await loop.run_in_executor(None, lambda: service.send(inv, extra_to=msg.recipients,
                                                                       resend=msg.resend))
        metrics.EMAILS_SENT.labels("sent" if result.sent else "already_sent" if result.already_sent else "failed").inc()
        if result.sent or result.already_sent:
            record = _with(record, result.invoice, "emailed to " + ", ".join(result.recipients), error=None)
            await emit_invoice(record, "SENT")
        else:
            record = replace(record, error=result.error)
            await emit_invoice(record, "SEND_FAILED")
            return record, f"send failed: {result.error}"
    if msg.action == "PRINT_AND_SEND":
        result = await loop.run_in_executor(None, lambda: service.print_and_send(inv))
        record = _with(record, result.invoice, "print & send")
        await emit_invoice(record, "SENT")
    return record, f"{msg.action.lower()} done: {record.invoice.status.value}"


async def _consolidate(record: InvoiceRecord | None, msg: DocumentCommand) -> None:
    result = consolidate(record.invoice if record else None, msg, INVOICE_SIZE)
    if result.ok:
        placements = {p.placement_id: p for p in record.report_placements + msg.placements}
        record = _with(record, result.invoice, result.message, report_placements=tuple(placements.values()),
                       report_approvals=tuple(dict.fromkeys(record.report_approvals + msg.approvals)))
        invoices[msg.invoice_id.encode()] = record
        await emit_invoice(record, "CONSOLIDATED")
    await send_settles(settlements(msg, result.taken, P))
    tenant_id = record.invoice.tenant_id if record else (msg.lines[0].tenant_id if msg.lines else "")
    await send_outcome(command_id=msg.command_id, tenant_id=tenant_id,
                       command="CONSOLIDATE", ok=result.ok, message=result.message,
                       invoice_ids=(msg.invoice_id,) if result.ok else ())


@app.agent(document_commands)
async def documents(stream):
    """Generated documents, then Record / Send / Print & Send / Void on them."""
    async for event in stream.events():
        msg = event.value
        async with failure_stops_worker("documents", event.message):
            injected_fault("documents", msg.action)
            with log_context(invoice_id=msg.invoice_id,
                             tenant_id=msg.tenant_id or (msg.invoice.tenant_id if msg.invoice else None)):
                await _document_command(msg)


async def _document_command(msg: DocumentCommand) -> None:
    key = msg.invoice_id.encode()
    record = invoices.get(key)
    if msg.action == "GENERATED":
        if record is None:
            record = InvoiceRecord(msg.invoice, ((DocumentStatus.NEW.value, clock.now().isoformat(), "generated"),),
                                   report_placements=msg.placements, report_approvals=msg.approvals)
            invoices[key] = record
        injected_fault("documents", "stored")
        await emit_invoice(record, "GENERATED")      # re-emitted on a replay: consumers dedupe by event id
        injected_fault("documents", "emitted")
        if record.invoice.invoicing_mode is InvoicingMode.AUTOMATIC and record.invoice.status is DocumentStatus.NEW:
            msg = DocumentCommand("AUTOMATIC", msg.invoice_id, msg.command_id)
        else:
            return
    if msg.action == "CONSOLIDATE":
        await _consolidate(record, msg)
        return
    if record is None or (msg.tenant_id is not None and record.invoice.tenant_id != msg.tenant_id):
        # Another tenant's invoice is answered exactly like an unknown one: nothing acted on, nothing told.
        whose = f" of tenant {msg.tenant_id}" if msg.tenant_id is not None else ""
        await send_outcome(command_id=msg.command_id, tenant_id=msg.tenant_id or "", command=msg.action, ok=False,
                           message=f"invoice {msg.invoice_id}{whose} is unknown")
        return
    from workers.delivery import delivery_errors

    try:
        if msg.action == "VOID":
            voided = lifecycle.void(record.invoice)
            record = _with(record, voided, "voided")
            for placement_id in sorted({line.placement_id for line in voided.lines}):
                pkey = f"{voided.tenant_id}:{placement_id}".encode()
                await ledger_commands.send(key=pkey, partition=partition_for(pkey, P), value=LineCommand(
                    f"{msg.command_id}:{placement_id}", voided.tenant_id, pkey.decode(), "RELEASE_INVOICE",
                    invoice_id=voided.invoice_id))
            await emit_invoice(record, "VOIDED")
            text = f"voided {voided.number}; its pay lines are pending again"
        else:
            record, text = await _delivery(record, msg)
        ok = True
    except delivery_errors() as exc:    # the document keeps its status; the error is kept and answered
        ok, text = False, str(exc)
        record = replace(invoices.get(key) or record, error=f"{msg.action}: {exc}")
        log.warning("%s of %s refused: %s", msg.action, msg.invoice_id, exc)
    invoices[key] = record
    if msg.command_id and msg.action != "AUTOMATIC":
        await send_outcome(command_id=msg.command_id, tenant_id=record.invoice.tenant_id, command=msg.action,
                           ok=ok, message=text)
