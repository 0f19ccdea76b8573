"""What the ledger agents do with one message, without Faust: easy to test, and the
agents stay a loop of decode -> call -> store -> emit.

A LedgerRecord wraps the domain's PlacementLedger with the worker's bookkeeping:
events parked until their placement arrives (the grace period), lines reserved for a
window until the assembler settles them (so no other window can take them), and the
approved timesheets behind the pay lines, for the timesheet reports.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from backoffice import ledger as L
from backoffice.errors import AlreadyInvoiced, DomainError, UnknownPlacement
from backoffice.model import PayLine, Placement, TimesheetApproval
from schemas.codec import DecodeError, decode
from schemas.mapping import InvalidEvent, fee_from_record, placement_from_record, timesheet_from_record
from schemas.topics import ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
from workers.messages import WindowRequest

BAD_INPUT = (DecodeError, InvalidEvent, DomainError)


@dataclass(frozen=True, slots=True)
class Parked:
    """An event that arrived before its placement: original bytes kept for replay or dead-lettering."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    first_seen: dt.datetime


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    ledger: L.PlacementLedger
    parked: tuple[Parked, ...] = ()
    reserved: dict[str, str] = field(default_factory=dict)    # pay_line_id -> window key
    seen_commands: frozenset[str] = frozenset()
    #: timesheet id -> the original Avro bytes of its applied approval version. Bytes, not
    #: decoded approvals: a record is (un)pickled on every event, and decoded approvals were
    #: two thirds of that cost; reports decode them when they need them (`decode_approval`).
    approvals: dict[str, bytes] = field(default_factory=dict)


def new_record(placement_key: str) -> LedgerRecord:
    tenant, _, placement_id = placement_key.partition(":")
    return LedgerRecord(L.empty_ledger(tenant, placement_id))


@dataclass
class Outcome:
    record: LedgerRecord
    dead: list[tuple[Parked, BaseException]] = field(default_factory=list)
    changed: bool = True


def apply_raw(record: LedgerRecord, topic: str, value: bytes, *, partition: int, offset: int, today: dt.date
              ) -> LedgerRecord:
    """Decode and apply one ATS message; raises BAD_INPUT errors (UnknownPlacement among them)."""
    decoded = decode(value, topic=topic, partition=partition, offset=offset).record
    led = record.ledger
    if topic == ATS_PLACEMENTS:
        placement = placement_from_record(decoded)
        _check_owner(led, placement.tenant_id, placement.placement_id)
        return replace(record, ledger=L.apply_placement(led, placement).ledger)
    if topic == ATS_TIMESHEETS:
        approval = timesheet_from_record(decoded)
        _check_owner(led, approval.tenant_id, approval.placement_id)
        update = L.apply_timesheet(led, approval, today)
        if not update.changed:
            return record
        return replace(record, ledger=update.ledger, approvals={**record.approvals, approval.timesheet_id: value})
    if topic == ATS_FEES:
        fee = fee_from_record(decoded)
        _check_owner(led, fee.tenant_id, fee.placement_id)
        return replace(record, ledger=L.apply_fee(led, fee, today).ledger)
    raise InvalidEvent(f"unexpected topic {topic}")


def _check_owner(led: L.PlacementLedger, tenant_id: str, placement_id: str) -> None:
    if (tenant_id, placement_id) != (led.tenant_id, led.placement_id):
        raise InvalidEvent(f"key {led.key} does not match the event's {tenant_id}:{placement_id}")


def ingest(record: LedgerRecord, parked: Parked, today: dt.date) -> Outcome:
    """Apply one message; park it if its placement is unknown; replay parked ones once it is known."""
    dead: list[tuple[Parked, BaseException]] = []
    try:
        record = apply_raw(record, parked.topic, parked.value, partition=parked.partition, offset=parked.offset,
                           today=today)
    except UnknownPlacement:
        return Outcome(replace(record, parked=record.parked + (parked,)))
    except BAD_INPUT as exc:
        return Outcome(record, [(parked, exc)], changed=False)
    if record.parked and record.ledger.placement is not None:
        waiting, record = record.parked, replace(record, parked=())
        for item in waiting:
            try:
                record = apply_raw(record, item.topic, item.value, partition=item.partition, offset=item.offset,
                                   today=today)
            except BAD_INPUT as exc:
                dead.append((item, exc))
    return Outcome(record, dead)


def expire_parked(record: LedgerRecord, now: dt.datetime, grace: dt.timedelta) -> Outcome:
    """Parked events older than the grace period become dead letters (their placement never came)."""
    keep, dead = [], []
    for item in record.parked:
        if now - item.first_seen >= grace:
            dead.append((item, UnknownPlacement(f"placement {record.ledger.placement_id} of tenant "
                                                f"{record.ledger.tenant_id} unknown after {grace}")))
        else:
            keep.append(item)
    if not dead:
        return Outcome(record, changed=False)
    return Outcome(replace(record, parked=tuple(keep)), dead)


def collect(record: LedgerRecord, request: WindowRequest, today: dt.date | None = None
            ) -> tuple[LedgerRecord, list[PayLine]]:
    """Due lines for this window that no other window holds; reserve them for it.

    Scheduled lines whose date has come (as of the worker's `today`) are stored as Pending
    first, so the stored status stays the truth; the window's own `as_of` decides what it
    may invoice.
    """
    placement = record.ledger.placement
    if placement is None:
        return record, []
    if today is not None:
        advanced = L.advance(record.ledger, today)
        if advanced.changed:
            record = replace(record, ledger=advanced.ledger)
    if request.cycle is not None and placement.billing_cycle.value != request.cycle:
        return record, []
    due = [x for x in L.due_lines(record.ledger, request.period_end, request.as_of)
           if record.reserved.get(x.pay_line_id, request.window_key) == request.window_key
           and (not request.pay_line_ids or x.pay_line_id in request.pay_line_ids)]
    if not due:
        return record, []
    reserved = {**record.reserved, **{x.pay_line_id: request.window_key for x in due}}
    return replace(record, reserved=reserved), due


@dataclass(frozen=True, slots=True)
class SettleRefusal:
    """A line the window drew that is already on another invoice: never billed twice, always said."""

    pay_line_id: str
    invoice_id: str
    reason: str


def settle(record: LedgerRecord, window_key: str, invoiced: dict[str, tuple[PayLine, str]], today: dt.date
           ) -> tuple[LedgerRecord, list[SettleRefusal]]:
    """Store the window's invoiced lines as drawn, and release whatever it reserved but did not invoice.

    `invoiced`: pay_line_id -> (the line as the window collected it, its invoice id). A line
    that is already on another invoice is refused alone; the others settle.
    """
    led, refusals = record.ledger, []
    for pay_line_id in sorted(invoiced):
        drawn, invoice_id = invoiced[pay_line_id]
        try:
            led = L.settle_invoiced(led, [(drawn, invoice_id)], today).ledger
        except AlreadyInvoiced as exc:
            refusals.append(SettleRefusal(pay_line_id, invoice_id, exc.reason))
    return replace(release_window(record, window_key) or record, ledger=led), refusals


def reservation_of(record: LedgerRecord, pay_line_id: str) -> str | None:
    """The window that holds this line (an operator may not snooze it until that window settles)."""
    return record.reserved.get(pay_line_id)


def release_window(record: LedgerRecord, window_key: str) -> LedgerRecord | None:
    """Drop every reservation the window still holds on this placement; None when it holds none."""
    if window_key not in record.reserved.values():
        return None
    return replace(record, reserved={k: w for k, w in record.reserved.items() if w != window_key})


def placement_of(record: LedgerRecord) -> Placement | None:
    return record.ledger.placement


def decode_approval(raw: bytes) -> TimesheetApproval:
    """An approval kept as its original Avro bytes (LedgerRecord.approvals), decoded."""
    return timesheet_from_record(decode(raw, topic=ATS_TIMESHEETS).record)


def approvals_of(record: LedgerRecord, lines: list[PayLine]) -> dict[str, bytes]:
    """The kept approvals behind these (timesheet) lines: timesheet id -> Avro bytes."""
    return {line.timesheet_id: record.approvals[line.timesheet_id] for line in lines
            if line.timesheet_id is not None and line.timesheet_id in record.approvals}


from backoffice.pickling import speed_up_module  # noqa: E402

speed_up_module(__name__, globals())
