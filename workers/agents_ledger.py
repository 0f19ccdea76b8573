"""Pay-line state: ats.placements / ats.timesheets / ats.fees -> the ledgers table, and the
ledger side of windows (collect, settle) and of operator commands (snooze, credit...)."""
from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from dataclasses import replace

from backoffice import ledger as L
from backoffice.errors import DomainError
from backoffice.model import PayLineStatus
from infra.settings import load_settings
from ops import metrics
from ops.logs import log_context
from workers import clock
from workers.app import app
from workers.deadletter import DeadLetters
from workers.emit import send_outcome
from workers.guard import failure_stops_worker, injected_fault, keeps_ticking
from schemas.bounds import check_envelope
from schemas.mapping import InvalidEvent
from workers.ledger_logic import (
    Bounds, Parked, approvals_of, collect, expire_parked, ingest, new_record, release_window, reservation_of, settle,
)
from workers.messages import Collect, LineCommand, LinesChunk, Release, Settle, SweepParked, WindowEnd
from workers.sizing import BUDGET, encoded_size, size_of_raw
from workers.partitioning import partition_for
from workers.topology import P, ledger_commands, ledger_inputs_topic, ledgers, window_lines

log = logging.getLogger(__name__)
dead_letters = DeadLetters(app)
CHUNK = 500
SETTINGS = load_settings()
GRACE = dt.timedelta(seconds=SETTINGS.orphan_grace_seconds)
BOUNDS = Bounds(SETTINGS.sizes(), SETTINGS.limits(), SETTINGS.max_kept_approval_bytes)


async def _dead_letter_parked(item: Parked, error: BaseException, tenant_id: str) -> None:
    class _Message:   # the DeadLetters API takes a message-like object
        topic, partition, offset, key, value = item.topic, item.partition, item.offset, item.key, item.value
    await dead_letters.send(_Message, error, tenant_id)


async def _ingest(stream) -> None:
    async for event in stream.events():
        message = event.message
        async with failure_stops_worker("ingest_ledger_events", message):
            await _ingest_one(message)


async def _ingest_one(message) -> None:
    metrics.EVENTS_CONSUMED.labels(message.topic).inc()
    key = message.key or b""
    try:    # before the key names a ledger: a 1 MiB key must not become a table key
        check_envelope(key, message.value, BOUNDS.sizes)
    except InvalidEvent as exc:
        await dead_letters.send(message, exc)
        return
    tenant_id = key.decode(errors="replace").partition(":")[0]
    if b":" not in key:
        await dead_letters.send(message, ValueError(f"key {key!r} is not tenant:placement_id"), tenant_id)
        return
    with log_context(tenant_id=tenant_id, topic=message.topic, partition=message.partition, offset=message.offset):
        record = ledgers.get(key) or new_record(key.decode())
        parked = Parked(message.topic, message.partition, message.offset, message.key, message.value, clock.now())
        injected_fault("ingest_ledger_events", message.topic)
        try:
            outcome = ingest(record, parked, clock.today(), BOUNDS)
        except Exception as exc:   # noqa: BLE001 - pure code (no I/O) choking on this message's values: its fault
            await dead_letters.send(message, exc, tenant_id)
            return
        # Store before any await: another agent (settle, commands) may touch this ledger meanwhile.
        if outcome.changed:
            ledgers[key] = outcome.record
            _note_parked(key, outcome.record)
        elif not outcome.dead:
            # A replay writes nothing (ledger_logic.ingest), but a crash may have come between its
            # first write and the send of its pay-line events: re-send what the record holds.
            ledgers.keep(key, outcome.record, changed=False)
        for item, error in outcome.dead:
            await _dead_letter_parked(item, error, tenant_id)


@app.agent(ledger_inputs_topic)
async def ingest_ledger_events(stream):
    """Placement upserts (newest version wins; replays the events that waited for it),
    approved timesheets (one pay line per pay code; re-approvals replace or adjust) and
    fees (placement fees, products, services: one pay line each, Scheduled until due)."""
    await _ingest(stream)


def _local_keys(tenant_id: str, partition: int) -> list[bytes]:
    prefix = f"{tenant_id}:".encode()
    return sorted(k for k in ledgers.keys() if k.startswith(prefix) and partition_for(k, P) == partition)


async def _collect(msg: Collect) -> None:
    """Reserve and send this partition's due lines, in chunks of at most CHUNK lines and about
    BUDGET encoded bytes (workers.sizing: no chunk can reach the broker's 1 MiB)."""
    request, now = msg.request, clock.now()
    lines, placements, approvals, chunks, expired, used = [], {}, {}, 0, 0, 0
    for key in _local_keys(request.tenant_id, msg.partition):
        aged = expire_parked(ledgers[key], now, GRACE)
        record, due = collect(aged.record, request, clock.today())
        # Store before any await: an ingest or settle may touch this ledger meanwhile.
        if due or aged.changed:
            ledgers[key] = record
        for item, error in aged.dead:
            await _dead_letter_parked(item, error, request.tenant_id)
            expired += 1
        for line in due:
            placement = record.ledger.placement
            kept = approvals_of(record, [line])
            cost = encoded_size(line) + sum(size_of_raw(raw) for ts, raw in kept.items() if ts not in approvals)
            if placement.placement_id not in placements:
                cost += encoded_size(placement)
            if lines and (len(lines) >= CHUNK or used + cost > BUDGET):
                await window_lines.send(key=request.tenant_id.encode(), value=LinesChunk(
                    request, msg.partition, chunks, tuple(lines), tuple(placements.values()), approvals))
                lines, placements, approvals, chunks, used = [], {}, {}, chunks + 1, 0
                cost = encoded_size(line) + encoded_size(placement) + sum(size_of_raw(r) for r in kept.values())
            placements[placement.placement_id] = placement
            approvals.update(kept)
            lines.append(line)
            used += cost
    if lines:
        await window_lines.send(key=request.tenant_id.encode(), value=LinesChunk(
            request, msg.partition, chunks, tuple(lines), tuple(placements.values()), approvals))
        chunks += 1
    await window_lines.send(key=request.tenant_id.encode(),
                            value=WindowEnd(request, msg.partition, msg.partitions, chunks, expired))


#: Ledger keys that had parked events when last seen, per ledger partition; a partition not
#: yet in it is scanned in full (after a start), and every FULL_SCAN_EVERY-th sweep too (a
#: partition that came back after a rebalance may hold keys parked elsewhere meanwhile).
_parked_keys: dict[int, set[bytes]] = {}
_sweeps: Counter = Counter()
FULL_SCAN_EVERY = 10


def _note_parked(key: bytes, record) -> None:
    keys = _parked_keys.get(partition_for(key, P))
    if keys is not None and record.parked:
        keys.add(key)


async def _sweep(msg: SweepParked) -> None:
    """Parked events past the grace period become dead letters, windows or not."""
    now = clock.now()
    candidates = _parked_keys.get(msg.partition)
    _sweeps[msg.partition] += 1
    if candidates is None or _sweeps[msg.partition] % FULL_SCAN_EVERY == 0:
        candidates = {k for k in ledgers.keys() if partition_for(k, P) == msg.partition}
    still, expired = set(), []
    for key in sorted(candidates):
        record = ledgers.get(key)
        if record is None or not record.parked:
            continue
        aged = expire_parked(record, now, GRACE)
        if aged.changed:
            ledgers[key] = aged.record      # every write first, then the awaits
            expired.extend((item, error, aged.record.ledger.tenant_id) for item, error in aged.dead)
        if aged.record.parked:
            still.add(key)
    _parked_keys[msg.partition] = still
    for item, error, tenant_id in expired:
        await _dead_letter_parked(item, error, tenant_id)
    if expired:
        log.info("parked-event sweep of ledger partition %d: %d dead-lettered", msg.partition, len(expired))


async def _settle(msg: Settle) -> None:
    """Store the window's lines as invoiced; a line already on another invoice is refused and said."""
    today, refused = clock.today(), []
    for placement_key, invoiced in msg.assignments.items():
        key = placement_key.encode()
        record = ledgers.get(key)
        if record is not None:
            last = msg.final is None or placement_key in msg.final
            ledgers[key], refusals = settle(record, msg.window_key, invoiced, today, release=last)
            refused.extend(refusals)
    for refusal in refused:       # after every write: nothing here awaits between read and store
        metrics.SETTLE_REFUSED.inc()
        log.error("window %s: %s", msg.window_key, refusal.reason)
        await send_outcome(command_id=f"settle:{msg.window_key}:{refusal.pay_line_id}", tenant_id=msg.tenant_id,
                           command="SETTLE", ok=False, message=f"refused: {refusal.reason}")


def _release(msg: Release) -> None:
    """Whatever the window still reserves among this tenant's placements on this partition goes back."""
    for key in _local_keys(msg.tenant_id, msg.partition):
        record = release_window(ledgers[key], msg.window_key)
        if record is not None:
            ledgers[key] = record


def _done_text(msg: LineCommand) -> str:
    return f"{msg.action.lower()} done for {msg.pay_line_id or msg.placement_key}"


async def _line_command(msg: LineCommand) -> None:
    key = msg.placement_key.encode()
    record = ledgers.get(key)
    if record is not None and msg.command_id in record.seen_commands:
        ledgers.keep(key, record, changed=False)       # a replay: re-send what a crash may have lost
        # The command is marked seen in the (local) store before its outcome is sent, so a crash in
        # between would leave it unanswered: answer it again (same event id: consumers deduplicate).
        if msg.action != "RELEASE_INVOICE":
            await send_outcome(command_id=msg.command_id, tenant_id=msg.tenant_id, command=msg.action, ok=True,
                               message=_done_text(msg))
        return
    today = clock.today()
    try:
        if record is None or record.ledger.placement is None:
            raise DomainError(f"placement {msg.placement_key} is unknown")
        led = record.ledger
        if msg.action == "SNOOZE":
            holder = reservation_of(record, msg.pay_line_id)
            if holder is not None:
                raise DomainError(f"pay line {msg.pay_line_id} is being invoiced by window {holder}; "
                                  f"snooze it once that window is done")
            led = L.snooze(led, msg.pay_line_id).ledger
        elif msg.action == "UNSNOOZE":
            led = L.unsnooze(led, msg.pay_line_id, today).ledger
        elif msg.action == "CREDIT":
            led = L.apply_credit(led, msg.credit, today).ledger
        elif msg.action == "RELEASE_INVOICE":
            led = L.release_invoice(led, msg.invoice_id, today).ledger
        else:
            raise DomainError(f"unknown ledger action {msg.action}")
        ledgers[key] = replace(record, ledger=led, seen_commands=record.seen_commands | {msg.command_id})
        ok, text = True, _done_text(msg)
    except DomainError as exc:
        ok, text = False, exc.reason
    except (ArithmeticError, ValueError, TypeError) as exc:   # the pure domain choking on the command's values
        ok, text = False, f"{type(exc).__name__}: {exc}"
    if msg.action != "RELEASE_INVOICE":
        await send_outcome(command_id=msg.command_id, tenant_id=msg.tenant_id, command=msg.action, ok=ok, message=text)


@app.agent(ledger_commands)
async def ledger_side(stream):
    """Window collection and settlement, and operator commands addressed to one placement."""
    async for event in stream.events():
        msg = event.value
        async with failure_stops_worker("ledger_side", event.message):
            injected_fault("ledger_side", type(msg).__name__)
            if isinstance(msg, Collect):
                await _collect(msg)
            elif isinstance(msg, Settle):
                await _settle(msg)
            elif isinstance(msg, Release):
                _release(msg)
            elif isinstance(msg, LineCommand):
                await _line_command(msg)
            elif isinstance(msg, SweepParked):
                await _sweep(msg)
            else:
                raise TypeError(f"ledger-commands: unexpected message {type(msg).__name__}")


@app.timer(SETTINGS.parked_sweep_seconds, on_leader=True)
@keeps_ticking("sweep_parked")
async def sweep_parked() -> None:
    """One SweepParked per ledger partition: the expiry runs in the ledger agent, in stream
    processing, because Faust refuses table writes from a timer."""
    for partition in range(P):
        await ledger_commands.send(key=b"sweep", partition=partition, value=SweepParked(partition))


@app.timer(float(os.environ.get("BACKOFFICE_PAYLINE_GAUGE_INTERVAL", "60")))
@keeps_ticking("count_pay_lines")
async def count_pay_lines() -> None:
    """backoffice_pay_lines{status}: this worker's ledger partitions, as of the last count."""
    counts = Counter(line.status.value for _, record in ledgers.items() for line in record.ledger.lines.values())
    for status in PayLineStatus:
        metrics.PAY_LINES.labels(status.value).set(counts.get(status.value, 0))
