"""What the ledger agents do with one message, without Faust: easy to test, and the
agents stay a loop of decode -> call -> store -> emit.

A LedgerRecord wraps the domain's PlacementLedger with the worker's bookkeeping:
events parked until their placement arrives (the grace period), lines reserved for a
window until the assembler settles them (so no other window can take them), and the
approved timesheets behind the pay lines, for the timesheet reports.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace

from backoffice import ledger as L
from backoffice import limits as bounds
from backoffice.errors import AlreadyInvoiced, ConflictingDuplicate, DomainError, UnknownPlacement
from backoffice.model import FeeRealized, PayLine, PayLineStatus, Placement, TimesheetApproval
from schemas.bounds import DEFAULT_SIZES, SizeLimits, decode_bounded
from schemas.codec import DecodeError, decode
from schemas.mapping import InvalidEvent, fee_from_record, placement_from_record, timesheet_from_record
from schemas.topics import ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS
from workers.messages import WindowRequest

BAD_INPUT = (DecodeError, InvalidEvent, DomainError)

#: Original bytes parked per placement at most. A parked message is <= max_message_bytes
#: (32 KiB by default), so a ledger record's parked part stays <= 256 KiB + 32 KiB, far
#: under the broker's 1 MiB per changelog record; beyond, an event waits no more: it is
#: dead-lettered as UnknownPlacement at once.
PARKED_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class Bounds:
    """What an external message must fit before it touches a ledger (infra.settings)."""

    sizes: SizeLimits = DEFAULT_SIZES
    limits: bounds.Limits = bounds.DEFAULT
    #: Kept approval bytes per placement (BACKOFFICE_MAX_KEPT_APPROVAL_BYTES); see trim_approvals.
    approval_bytes: int = 256 * 1024


DEFAULT_BOUNDS = Bounds()


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
    #: decoded approvals: a record is decoded and encoded on every event, and decoded approvals were
    #: two thirds of that cost; reports decode them when they need them (`decode_approval`).
    approvals: dict[str, bytes] = field(default_factory=dict)
    #: source id (timesheet id / fee id) -> 8-byte digest of the applied version's content, so a
    #: second event with the same version and other content is a ConflictingDuplicate, not a replay.
    #: None in records written before it existed.
    content: dict[str, bytes] | None = None
    #: pay_line_id -> version of its last billing.paylines event (workers.paylines_logic); removed
    #: lines keep theirs, so a line that comes back goes on counting. None before it existed.
    line_versions: dict[str, int] | None = None


def new_record(placement_key: str) -> LedgerRecord:
    tenant, _, placement_id = placement_key.partition(":")
    return LedgerRecord(L.empty_ledger(tenant, placement_id))


@dataclass
class Outcome:
    record: LedgerRecord
    dead: list[tuple[Parked, BaseException]] = field(default_factory=list)
    changed: bool = True


def content_digest(item: TimesheetApproval | FeeRealized) -> bytes:
    """What an event asks to bill, without its envelope (event id, timestamps): 8 bytes."""
    if isinstance(item, TimesheetApproval):
        entries = sorted((e.work_date.isoformat(), e.pay_code.value, str(e.hours)) for e in item.entries)
        parts = (item.placement_id, item.week_ending.isoformat(), entries, item.approver)
    else:
        parts = (item.placement_id, item.kind.value, item.description, str(item.quantity), str(item.unit_price),
                 item.effective_date.isoformat(), item.taxable, item.catalog_item_id)
    return hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()


def _check_not_conflicting(record: LedgerRecord, source_id: str, version: int, digest: bytes, what: str) -> None:
    applied = record.ledger.versions.get(source_id)
    known = (record.content or {}).get(source_id)
    if applied == version and known is not None and known != digest:
        raise ConflictingDuplicate(f"{what} version {version} was applied with content {known.hex()}; this event "
                                   f"has the same version with content {digest.hex()}: not applied")


def _remember(record: LedgerRecord, source_id: str, digest: bytes) -> dict[str, bytes]:
    return {**(record.content or {}), source_id: digest}


def apply_raw(record: LedgerRecord, topic: str, value: bytes, *, partition: int, offset: int, today: dt.date,
              key: bytes | None = None, limits: Bounds = DEFAULT_BOUNDS) -> LedgerRecord:
    """Decode, bound-check and apply one ATS message; raises BAD_INPUT errors (UnknownPlacement among them)."""
    decoded = decode_bounded(value, topic=topic, key=key, partition=partition, offset=offset,
                             limits=limits.sizes).record
    led = record.ledger
    if topic == ATS_PLACEMENTS:
        placement = placement_from_record(decoded)
        _check_owner(led, placement.tenant_id, placement.placement_id)
        bounds.check_placement(placement, today, limits.limits)
        update = L.apply_placement(led, placement)
        return replace(record, ledger=update.ledger) if update.changed else record
    if topic == ATS_TIMESHEETS:
        approval = timesheet_from_record(decoded)
        _check_owner(led, approval.tenant_id, approval.placement_id)
        bounds.check_timesheet(approval, today, limits.limits)
        digest = content_digest(approval)
        _check_not_conflicting(record, approval.timesheet_id, approval.version, digest,
                               f"timesheet {approval.timesheet_id}")
        update = L.apply_timesheet(led, approval, today)
        if not update.changed:
            return record
        approvals = {**record.approvals, approval.timesheet_id: value}
        return replace(record, ledger=update.ledger, approvals=trim_approvals(approvals, update.ledger,
                                                                              limits.approval_bytes),
                       content=_remember(record, approval.timesheet_id, digest))
    if topic == ATS_FEES:
        fee = fee_from_record(decoded)
        _check_owner(led, fee.tenant_id, fee.placement_id)
        bounds.check_fee(fee, today, limits.limits)
        digest = content_digest(fee)
        _check_not_conflicting(record, fee.fee_id, fee.version, digest, f"fee {fee.fee_id}")
        update = L.apply_fee(led, fee, today)
        if not update.changed:
            return record
        return replace(record, ledger=update.ledger, content=_remember(record, fee.fee_id, digest))
    raise InvalidEvent(f"unexpected topic {topic}")


def trim_approvals(approvals: dict[str, bytes], ledger: L.PlacementLedger, budget: int) -> dict[str, bytes]:
    """Kept approvals within `budget` bytes: beyond it, the oldest-applied ones whose lines are
    all invoiced are dropped (their timesheet reports went out with those invoices, which keep
    the copy). An approval with a line still to bill is always kept; so are the versions and
    digests (the exactly-once checks), which live elsewhere. Without this, a long placement of
    32 KiB approvals would outgrow the 1 MiB changelog record after ~30 weeks."""
    total = sum(len(v) for v in approvals.values())
    if total <= budget:
        return approvals
    open_ = {x.timesheet_id for x in ledger.lines.values()
             if x.timesheet_id is not None and x.status is not PayLineStatus.INVOICED}
    kept = dict(approvals)
    for ts in list(approvals):                         # insertion order: applied first, dropped first
        if total <= budget:
            break
        if ts not in open_:
            total -= len(kept.pop(ts))
    return kept


def _check_owner(led: L.PlacementLedger, tenant_id: str, placement_id: str) -> None:
    if (tenant_id, placement_id) != (led.tenant_id, led.placement_id):
        raise InvalidEvent(f"key {led.key} does not match the event's {tenant_id}:{placement_id}")


def ingest(record: LedgerRecord, parked: Parked, today: dt.date, limits: Bounds = DEFAULT_BOUNDS) -> Outcome:
    """Apply one message; park it if its placement is unknown; replay parked ones once it is known.

    A parked item that fails on replay is dead-lettered alone, whatever it raises (pure code:
    its values are its fault): the placement that released it and the other items stay applied.
    """
    dead: list[tuple[Parked, BaseException]] = []
    original = record
    try:
        record = apply_raw(record, parked.topic, parked.value, partition=parked.partition, offset=parked.offset,
                           today=today, key=parked.key, limits=limits)
    except UnknownPlacement as exc:
        if any((x.topic, x.partition, x.offset) == (parked.topic, parked.partition, parked.offset)
               for x in record.parked):     # parked already: a replay after a crash before the ack
            return Outcome(record, changed=False)
        if sum(len(x.value) for x in record.parked) + len(parked.value) > PARKED_BYTES:
            return Outcome(record, [(parked, UnknownPlacement(f"{exc.reason}; {len(record.parked)} events already "
                                                              f"wait for it (at most {PARKED_BYTES} bytes)"))],
                           changed=False)
        return Outcome(replace(record, parked=record.parked + (parked,)))
    except BAD_INPUT as exc:
        return Outcome(record, [(parked, exc)], changed=False)
    if record.parked and record.ledger.placement is not None:
        waiting, record = record.parked, replace(record, parked=())
        for item in waiting:
            try:
                record = apply_raw(record, item.topic, item.value, partition=item.partition, offset=item.offset,
                                   today=today, key=item.key, limits=limits)
            except Exception as exc:   # noqa: BLE001 - pure code choking on this item alone: dead-letter it alone
                dead.append((item, exc))
    # A replayed event (a version already applied) changes nothing: no table write, no
    # changelog record, no RocksDB memtable growth when a topic is read again.
    return Outcome(record, dead, changed=record is not original or bool(dead))


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


def settle(record: LedgerRecord, window_key: str, invoiced: dict[str, tuple[PayLine, str]], today: dt.date,
           release: bool = True) -> tuple[LedgerRecord, list[SettleRefusal]]:
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
    kept = (release_window(record, window_key) if release else None) or record
    return replace(kept, ledger=led), refusals


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

