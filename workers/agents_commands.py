"""billing.commands (keyed by tenant): validate, deduplicate by command id, fan out."""
from __future__ import annotations

import asyncio
import logging

from dataclasses import replace

from backoffice.invoice_setup import apply_setup
from infra.settings import load_settings
from schemas.bounds import decode_bounded
from schemas.codec import DecodeError
from schemas.mapping import InvalidEvent
from workers import clock
from workers.app import app
from workers.command_logic import (
    DOCUMENT_ACTIONS, WINDOW_ACTIONS, CommandRefused, calendar_for, document_command, invoice_setup, line_command,
    window_request,
)
from workers.deadletter import DeadLetters
from workers.emit import send_outcome
from workers.guard import failure_stops_worker, injected_fault
from workers.messages import Collect
from workers.partitioning import partition_for
from workers.topology import P, commands_seen, commands_topic, document_commands, ledger_commands, tenants
from workers.window_logic import new_tenant

log = logging.getLogger(__name__)
dead_letters = DeadLetters(app)
SETTINGS = load_settings()
SIZES = SETTINGS.sizes()


def _pure(convert, *args):
    """Run a pure conversion of the command; whatever it chokes on is the command's fault: a refusal."""
    try:
        return convert(*args)
    except CommandRefused:
        raise
    except (ArithmeticError, ValueError, TypeError, KeyError) as exc:
        raise CommandRefused(f"{type(exc).__name__}: {exc}") from exc


async def _dispatch(cmd: dict) -> list:
    """Send what carries the command out; returns the sends' futures (await them for the broker's acks)."""
    kind, tenant = cmd["command"], cmd["tenant_id"]
    if kind in WINDOW_ACTIONS:
        state = tenants.get(tenant.encode())
        request = _pure(window_request, cmd, SETTINGS, clock.now(), state.sequence.last_number if state else 0,
                        calendar_for(state, SETTINGS))
        if kind == "CLOSE_WINDOW" and state is not None and request.window_key in state.closed:
            return [await send_outcome(command_id=cmd["command_id"], tenant_id=tenant, command=kind, ok=True,
                                       message=f"window {request.window_key} was already closed")]
        return [await ledger_commands.send(key=b"collect", partition=partition, value=Collect(request, partition, P))
                for partition in range(P)]
    if kind in ("SNOOZE", "UNSNOOZE", "CREATE_CREDIT_MEMO"):
        msg = _pure(line_command, cmd, clock.today(), SETTINGS.limits())
        key = msg.placement_key.encode()
        return [await ledger_commands.send(key=key, partition=partition_for(key, P), value=msg)]
    if kind in DOCUMENT_ACTIONS:
        msg = _pure(document_command, cmd)
        return [await document_commands.send(key=msg.invoice_id.encode(), value=msg)]
    if kind == "SET_INVOICE_SETUP":
        return [await _set_invoice_setup(cmd)]
    if kind == "RESYNC":
        return []   # the connectors consume billing.commands for RESYNC themselves
    raise CommandRefused(f"unknown command {kind}")


async def _set_invoice_setup(cmd: dict):
    """The tenant's calendar changes from each cycle's next unopened window (backoffice.invoice_setup).
    Read and written with no await between, so no assembler write can interleave; the assembler
    carries the calendar over from a fresh read when it writes the tenant (window_logic.keep_calendar)."""
    tenant, tkey = cmd["tenant_id"], cmd["tenant_id"].encode()
    state = tenants.get(tkey) or new_tenant(tenant)
    calendar = calendar_for(state, SETTINGS)
    setup = _pure(invoice_setup, cmd, calendar.current())
    calendar, cuts = apply_setup(calendar, setup, clock.now(), state.closed)
    tenants[tkey] = replace(state, calendar=calendar)
    starts = ", ".join(f"{cycle.value} from the period starting {day}" for cycle, day in cuts.items())
    return await send_outcome(command_id=cmd["command_id"], tenant_id=tenant, command=cmd["command"], ok=True,
                              message=f"Invoice Setup of {tenant}: {setup.describe()}; applies to {starts}")


@app.agent(commands_topic)
async def operator_commands(stream):
    """Each command id is carried out once and answered; a refused command gets an outcome saying why.

    The command is marked seen only once the broker has acknowledged what carries it out (the
    Collects, the line or document command, the outcome). A table write is on the local store at
    once, while the sends wait in the producer (linger): marked first, a kill -9 in between left a
    store that said "seen" and a broker that never got the command's effects, so the replay skipped
    it and the command never got an outcome (a GENERATE in the soak, bench/results/soak.json).
    A kill after the acks and before the mark only sends the same messages again (idempotent)."""
    async for event in stream.events():
        async with failure_stops_worker("operator_commands", event.message):
            await _command(event.message)


async def _command(message) -> None:
    try:
        cmd = decode_bounded(message.value, topic=message.topic, key=message.key, partition=message.partition,
                             offset=message.offset, limits=SIZES).record
    except (DecodeError, InvalidEvent) as exc:   # garbage, too large, or another schema's record
        await dead_letters.send(message, exc)
        return
    cid = cmd["command_id"].encode()
    if commands_seen.get(cid) is not None:
        return
    injected_fault("operator_commands", cmd["command"])
    try:
        pending = await _dispatch(cmd)
    except CommandRefused as exc:
        pending = [await send_outcome(command_id=cmd["command_id"], tenant_id=cmd["tenant_id"],
                                      command=cmd["command"], ok=False, message=str(exc))]
    await asyncio.gather(*pending)
    commands_seen[cid] = cmd["command"]
    injected_fault("operator_commands", f"seen:{cmd['command']}")
