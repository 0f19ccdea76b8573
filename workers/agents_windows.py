"""The window assembler, keyed by tenant: gathers every ledger partition's due lines,
then runs the health check, consolidates, numbers, and emits, once per window."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from infra.settings import load_settings
from ops import metrics
from workers import clock
from workers.app import app
from workers.guard import failure_stops_worker, injected_fault
from workers.emit import send_outcome, send_settles
from workers.messages import DocumentCommand, LinesChunk, Release, Settle, WindowEnd
from workers.topology import P, batches, billto, document_commands, ledger_commands, tenants, window_chunks, window_lines, windows
from workers.consolidate_logic import lines_of_account, release_all
from workers.window_logic import (
    Refusal, ReportInputs, hierarchy_for, keep_calendar, late_release, new_tenant, on_chunk, on_end, releases_on_completion,
    settlements, starts_new_attempt, tenant_after_generation, tenant_after_refusal, try_generate,
)

log = logging.getLogger(__name__)
#: How much one document holds (BACKOFFICE_MAX_INVOICE_LINES / _BYTES): bigger consolidations continue.
INVOICE_SIZE = load_settings().invoice_size()


def _wkey(tenant_id: str, window_key: str) -> bytes:
    return f"{tenant_id}|{window_key}".encode()


def _ckey(tenant_id: str, window_key: str, partition: int, chunk: int) -> bytes:
    return f"{tenant_id}|{window_key}|{partition}|{chunk}".encode()


async def _settle_and_release(request, chunks, assignments: dict[str, str]) -> list:
    """Settle messages per ledger partition (invoiced lines), then a Release to every partition
    (all that the window still reserves, whichever Collect reserved it). Same producer and
    partition: each Release lands after that partition's Settles."""
    pending = await send_settles({partition: Settle(request.window_key, request.tenant_id, settled)
                                  for partition, settled in settlements(chunks, assignments).items()})
    for partition in releases_on_completion(request, P):
        pending.append(await _release(request, partition))
    return pending


async def _release(request, partition: int):
    return await ledger_commands.send(key=b"release", partition=partition,
                                      value=Release(request.window_key, request.tenant_id, partition))


def _command_name(request) -> str:
    return "GENERATE" if request.on_demand else "CLOSE_WINDOW"


async def _emit_and_confirm(state, chunks, result) -> None:
    """Send everything the window produced and wait for the broker's acks.

    Only then is the window marked done: a crash before that replays the window
    from its chunks, yielding the same ids and numbers (consumers deduplicate). The outcome
    is acknowledged too: the done mark is in the local store at once, while an unacknowledged
    send may die with the process, and a replay of a done window answers nothing.
    """
    request = state.request
    pending = []
    reports = ReportInputs.of(chunks)
    for invoice in result.invoices:
        placements, approvals = reports.for_invoice(invoice)
        pending.append(await document_commands.send(
            key=invoice.invoice_id.encode(),
            value=DocumentCommand("GENERATED", invoice.invoice_id, request.command_id, invoice,
                                  placements=placements, approvals=approvals)))
        injected_fault("assemble_windows", "document_sent")
    pending += await _settle_and_release(request, chunks, result.assignments)
    await asyncio.gather(*pending)
    injected_fault("assemble_windows", "confirmed")
    if result.blocked:
        message = f"health check failed with {len(result.report.errors)} error(s); nothing generated"
    else:
        message = f"{len(result.invoices)} document(s) generated" + (
            f", numbers {result.batch.first_number}-{result.batch.last_number}" if result.batch else "")
    await (await send_outcome(command_id=request.command_id, tenant_id=request.tenant_id,
                              command=_command_name(request), ok=not result.blocked,
                              message=message, findings=result.report.findings,
                              batch_id=result.batch.batch_id if result.batch else None,
                              invoice_ids=tuple(i.invoice_id for i in result.invoices)))


async def _refuse(state, chunks, refusal: Refusal) -> None:
    """Nothing generated: every line goes back to Pending, and the command says why."""
    request = state.request
    await asyncio.gather(*await _settle_and_release(request, chunks, {}))
    await (await send_outcome(command_id=request.command_id, tenant_id=request.tenant_id,
                              command=_command_name(request), ok=False, message=f"refused: {refusal.reason}"))


async def _hand_to_invoice_owner(request, chunks) -> None:
    """Manual Consolidate: the invoice's owner decides (it alone knows the invoice's status)
    and settles or releases the reserved lines itself. Acknowledged by the broker before the
    window is marked done (see _emit_and_confirm)."""
    lines = tuple(line for c in chunks for line in c.lines)
    reports = ReportInputs.of(chunks)
    placements = tuple(reports.placements.values())
    hierarchy = hierarchy_for(request.tenant_id, billto.items())
    pending = []
    if request.account_id:      # only that account's lines travel; the others' reservations are let go here
        kept = lines_of_account(lines, placements, hierarchy, request.account_id)
        kept_ids = {line.pay_line_id for line in kept}
        dropped = [line for line in lines if line.pay_line_id not in kept_ids]
        pending = await send_settles(release_all(request.window_key, request.tenant_id, dropped, P))
        lines = kept
    approvals = reports.approvals_for(line.timesheet_id for line in lines if line.timesheet_id)
    pending.append(await document_commands.send(key=request.consolidate_into.encode(), value=DocumentCommand(
        "CONSOLIDATE", request.consolidate_into, request.command_id, placements=placements, lines=lines,
        hierarchy=hierarchy, window_key=request.window_key, pay_line_ids=request.pay_line_ids,
        approvals=approvals)))
    await asyncio.gather(*pending)


@app.agent(window_lines)
async def assemble_windows(stream):
    """Chunks and end markers from every ledger partition -> one batch per window."""
    async for event in stream.events():
        msg = event.value
        async with failure_stops_worker("assemble_windows", event.message):
            injected_fault("assemble_windows", type(msg).__name__)
            await _assemble(msg)


async def _assemble(msg) -> None:
    request = msg.request
    wkey = _wkey(request.tenant_id, request.window_key)
    state = windows.get(wkey)
    if state is not None and state.blocked and starts_new_attempt(state, tenants.get(request.tenant_id.encode()),
                                                                  request):
        state = None                          # a blocked window sent again: assemble it afresh
    if state is not None and state.done:      # a replayed or racing Collect: let go of what it reserved
        partition = late_release(state, msg)
        if partition is not None:
            await _release(request, partition)
        return
    if isinstance(msg, LinesChunk):
        window_chunks[_ckey(request.tenant_id, request.window_key, msg.source_partition, msg.chunk)] = msg
        state = on_chunk(state, msg)
    elif isinstance(msg, WindowEnd):
        state = on_end(state, msg)
    else:
        raise TypeError(f"window-lines: unexpected message {type(msg).__name__}")
    if not state.complete(P):
        windows[wkey] = state
        return
    chunk_keys = [_ckey(request.tenant_id, request.window_key, p, c) for p, c in state.chunk_keys()]
    chunks = [window_chunks[k] for k in chunk_keys]
    if request.consolidate_into:
        await _hand_to_invoice_owner(request, chunks)
        windows[wkey] = type(state)(state.request, state.ends, state.received, True)
        for k in chunk_keys:
            del window_chunks[k]
        return
    tkey = request.tenant_id.encode()
    tenant = tenants.get(tkey) or new_tenant(request.tenant_id)
    result = try_generate(request, chunks, hierarchy_for(request.tenant_id, billto.items()), tenant, INVOICE_SIZE)
    injected_fault("assemble_windows", "numbered")
    if isinstance(result, Refusal):
        await _refuse(state, chunks, result)
        metrics.WINDOWS_CLOSED.labels("refused").inc()
        tenants[tkey] = tenant_after_refusal(keep_calendar(tenant, tenants.get(tkey)), request)
        windows[wkey] = replace(state, done=True, blocked=True)
        for k in chunk_keys:
            del window_chunks[k]
        injected_fault("assemble_windows", "done")
        return
    await _emit_and_confirm(state, chunks, result)
    metrics.WINDOWS_CLOSED.labels("blocked" if result.blocked else "generated").inc()
    for invoice in result.invoices:
        metrics.INVOICES_GENERATED.labels(invoice.kind.value).inc()
    if result.batch:
        batches[result.batch.batch_id.encode()] = result.batch
    # closed, or (a scheduled window the health check blocked) kept in the blocked list to retry
    tenants[tkey] = tenant_after_generation(keep_calendar(tenant, tenants.get(tkey)), request, result, clock.now())
    windows[wkey] = type(state)(state.request, state.ends, state.received, True, result.blocked,
                                len(result.invoices), result.batch.batch_id if result.batch else None)
    for k in chunk_keys:
        del window_chunks[k]
    injected_fault("assemble_windows", "done")
