"""A placement's ledger: its pay lines and the versions of what produced them.

The stream workers keep one PlacementLedger per placement and call these pure
functions per event. Replays are harmless: an approval or fee whose version is not
newer than the one applied changes nothing. An invoiced line is never edited:
a re-approval after invoicing yields adjustment lines for the difference.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Iterable

from backoffice import paylines
from backoffice.errors import (
    AlreadyInvoiced, CreditExceedsOriginal, InvalidPayLineInput, MissingBillRate, PlacementCancelled, UnknownPayLine,
    UnknownPlacement,
)
from backoffice.model import (
    CreditMemoRequest, FeeRealized, PayCode, PayLine, PayLineSource, PayLineStatus, Placement, PlacementStatus,
    PlacementType, TimesheetApproval,
)
from backoffice.money import ZERO, line_amount
from backoffice.periods import WeekPart, week_parts

PAY_CODE_LABEL = {PayCode.REG: "Regular", PayCode.OT: "Overtime", PayCode.DT: "Double time"}


@dataclass(frozen=True, slots=True)
class PlacementLedger:
    tenant_id: str
    placement_id: str
    placement: Placement | None = None
    lines: dict[str, PayLine] = field(default_factory=dict)
    #: highest applied version per source (timesheet id / fee id / credit request id)
    versions: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.tenant_id}:{self.placement_id}"


@dataclass(frozen=True, slots=True)
class LedgerUpdate:
    ledger: PlacementLedger
    added: tuple[PayLine, ...] = ()
    removed: tuple[str, ...] = ()
    changed: bool = True


def empty_ledger(tenant_id: str, placement_id: str) -> PlacementLedger:
    return PlacementLedger(tenant_id, placement_id)


def _unchanged(ledger: PlacementLedger) -> LedgerUpdate:
    return LedgerUpdate(ledger, changed=False)


def apply_placement(ledger: PlacementLedger, placement: Placement) -> LedgerUpdate:
    current = ledger.placement
    if current is not None and placement.version <= current.version:
        return _unchanged(ledger)
    return LedgerUpdate(replace(ledger, placement=placement))


def _usable_placement(ledger: PlacementLedger, what: str) -> Placement:
    placement = ledger.placement
    if placement is None:
        raise UnknownPlacement(f"{what} refers to unknown placement {ledger.placement_id} of tenant {ledger.tenant_id}")
    if placement.status is PlacementStatus.CANCELLED:
        raise PlacementCancelled(f"{what} refers to cancelled placement {placement.placement_id}; no pay lines")
    return placement


def _recompute(ledger: PlacementLedger, source_key: str, wanted: dict[str, PayLine], today: dt.date
               ) -> LedgerUpdate:
    """Replace the un-invoiced lines of one source group; adjust for invoiced ones.

    `wanted` maps a line slot (e.g. "…|REG") to the line the newest input asks for.
    For each slot: already-invoiced amounts stay; the difference (if any) becomes a
    new line (a plain line when nothing was invoiced, an adjustment otherwise).
    A replacement for a Snoozed line stays Snoozed: a new version does not lift a hold.
    """
    lines = dict(ledger.lines)
    removed, added = [], []
    slots: dict[str, list[PayLine]] = {}
    for line in ledger.lines.values():
        if _in_group(line.pay_line_id, source_key):
            slots.setdefault(_slot_of(line.pay_line_id), []).append(line)
    for slot in sorted(set(slots) | set(wanted)):
        existing = slots.get(slot, [])
        invoiced = [x for x in existing if x.status is PayLineStatus.INVOICED]
        held = any(x.status is PayLineStatus.SNOOZED for x in existing)
        for stale in existing:
            if stale.status is not PayLineStatus.INVOICED:
                del lines[stale.pay_line_id]
                removed.append(stale.pay_line_id)
        target = wanted.get(slot)
        if target is not None and held:
            target = replace(target, status=PayLineStatus.SNOOZED)      # a replacement keeps the operator's hold
        if not invoiced:
            if target is not None:
                lines[target.pay_line_id] = target
                added.append(target)
            continue
        billed_qty = sum((x.quantity for x in invoiced), ZERO)
        billed_amt = sum((x.amount for x in invoiced), ZERO)
        new_qty = target.quantity if target else ZERO
        new_amt = target.amount if target else ZERO
        if new_amt == billed_amt and new_qty == billed_qty:
            continue
        adjustment = _adjustment(target or invoiced[0], _free_adjustment_id(lines, slot, len(invoiced)),
                                 new_qty - billed_qty, new_amt - billed_amt, held, today)
        lines[adjustment.pay_line_id] = adjustment
        added.append(adjustment)
    return LedgerUpdate(replace(ledger, lines=lines), tuple(added), tuple(removed))


def _free_adjustment_id(lines: dict[str, PayLine], slot: str, start: int) -> str:
    """`slot|adjN` not yet taken. After a void released some of a slot's lines, the invoiced
    ones are no longer adj0..adjN-1, and `|adj{count}` can name a line still on an invoice."""
    n = start
    while f"{slot}|adj{n}" in lines:
        n += 1
    return f"{slot}|adj{n}"


def _adjustment(template: PayLine, pay_line_id: str, quantity: Decimal, amount: Decimal, held: bool,
                today: dt.date) -> PayLine:
    """The difference between what a slot asks for and what its invoices already billed."""
    return replace(
        template, pay_line_id=pay_line_id, source=PayLineSource.TIMESHEET_ADJUSTMENT
        if template.source in (PayLineSource.TIMESHEET, PayLineSource.TIMESHEET_ADJUSTMENT) else template.source,
        description=f"Adjustment: {template.description.removeprefix('Adjustment: ')}",
        quantity=quantity, amount=amount, invoice_id=None,
        status=PayLineStatus.SNOOZED if held else paylines.status_by_date(template.effective_date, today))


def _in_group(pay_line_id: str, source_key: str) -> bool:
    """The key itself or key + "|...": fee f1 must not claim fee f10's lines."""
    prefix = source_key if source_key.endswith("|") else source_key + "|"
    return pay_line_id == source_key or pay_line_id.startswith(prefix)


def _slot_of(pay_line_id: str) -> str:
    return pay_line_id.split("|adj", 1)[0]


def timesheet_line_id(ledger: PlacementLedger, timesheet_id: str, code: PayCode, part: WeekPart | None = None) -> str:
    """A week's line per pay code; a part of a week split at a period end adds "|{period end:%Y%m%d}",
    still inside the timesheet's group and its own slot (`_in_group`, `_slot_of`)."""
    base = f"{ledger.key}|TS|{timesheet_id}|{code.value}"
    return f"{base}|{part.period_end:%Y%m%d}" if part is not None and part.period_end is not None else base


def _timesheet_hours(approval: TimesheetApproval, parts: dict[dt.date, WeekPart]
                     ) -> dict[tuple[PayCode, WeekPart], tuple[Decimal, dt.date | None]]:
    """(pay code, week part) -> (hours, first day worked) of the approval's entries."""
    out: dict[tuple[PayCode, WeekPart], tuple[Decimal, dt.date | None]] = {}
    for entry in approval.entries:
        if entry.hours < 0:
            raise InvalidPayLineInput(f"timesheet {approval.timesheet_id}: negative hours on {entry.work_date}")
        key = (entry.pay_code, parts[entry.work_date])
        hours, first = out.get(key, (ZERO, None))
        if entry.hours > 0:
            first = entry.work_date if first is None else min(first, entry.work_date)
        out[key] = (hours + entry.hours, first)
    return out


def _timesheet_line(ledger: PlacementLedger, placement: Placement, approval: TimesheetApproval, code: PayCode,
                    part: WeekPart, hours: Decimal, rate: Decimal, first_worked: dt.date | None, today: dt.date
                    ) -> PayLine:
    """A whole week keeps its historical shape; a part is dated (work and effective) on its last day."""
    label = f"{placement.candidate_name} - {PAY_CODE_LABEL[code]} hours"
    if part.split:
        day, description = part.last_day, f"{label}, {part.days_text()} (week ending {approval.week_ending:%m/%d/%Y})"
    else:
        day, description = approval.week_ending, f"{label}, week ending {approval.week_ending:%m/%d/%Y}"
    return PayLine(
        tenant_id=ledger.tenant_id, pay_line_id=timesheet_line_id(ledger, approval.timesheet_id, code, part),
        placement_id=ledger.placement_id, source=PayLineSource.TIMESHEET, description=description,
        quantity=hours, rate=rate, amount=line_amount(hours, rate), effective_date=day, work_date=day,
        status=paylines.status_by_date(day, today), pay_code=code, timesheet_id=approval.timesheet_id,
        timesheet_version=approval.version, taxable=True, work_start=first_worked)


def apply_timesheet(ledger: PlacementLedger, approval: TimesheetApproval, today: dt.date) -> LedgerUpdate:
    """One pay line per pay code of the week: hours x the placement's bill rate.

    On a semi-monthly or monthly placement a week that straddles a period end gives one line
    per pay code and part (backoffice.periods), so each period invoices the days inside it.
    """
    if approval.version <= ledger.versions.get(approval.timesheet_id, -1):
        return _unchanged(ledger)
    placement = _usable_placement(ledger, f"timesheet {approval.timesheet_id}")
    parts = week_parts(placement.billing_cycle, approval.week_ending, (e.work_date for e in approval.entries))
    hours = _timesheet_hours(approval, parts)
    wanted: dict[str, PayLine] = {}
    for code, part in sorted(hours, key=lambda k: (k[0], k[1].last_day)):
        rate = placement.bill_rate(code)
        if rate is None:
            raise MissingBillRate(f"timesheet {approval.timesheet_id}: placement {placement.placement_id} has no "
                                  f"{code.value} bill rate")
        quantity, first_worked = hours[(code, part)]
        if quantity == 0:
            continue
        line = _timesheet_line(ledger, placement, approval, code, part, quantity, rate, first_worked, today)
        wanted[line.pay_line_id] = line
    update = _recompute(ledger, f"{ledger.key}|TS|{approval.timesheet_id}|", wanted, today)
    new = replace(update.ledger, versions={**ledger.versions, approval.timesheet_id: approval.version})
    return replace(update, ledger=new)


def apply_fee(ledger: PlacementLedger, fee: FeeRealized, today: dt.date) -> LedgerUpdate:
    """A placement fee, product or service: one pay line, Scheduled until its effective date."""
    if fee.version <= ledger.versions.get(fee.fee_id, -1):
        return _unchanged(ledger)
    _usable_placement(ledger, f"fee {fee.fee_id}")
    if fee.quantity <= 0:
        raise InvalidPayLineInput(f"fee {fee.fee_id}: quantity must be positive")
    line_id = f"{ledger.key}|FEE|{fee.fee_id}"
    line = PayLine(
        tenant_id=ledger.tenant_id, pay_line_id=line_id, placement_id=ledger.placement_id, source=PayLineSource.FEE,
        description=fee.description, quantity=fee.quantity, rate=fee.unit_price,
        amount=line_amount(fee.quantity, fee.unit_price), effective_date=fee.effective_date,
        work_date=fee.effective_date, taxable=fee.taxable,
        status=paylines.status_by_date(fee.effective_date, today), fee_id=fee.fee_id, fee_kind=fee.kind,
        catalog_item_id=fee.catalog_item_id)
    update = _recompute(ledger, line_id, {line_id: line}, today)
    return replace(update, ledger=replace(update.ledger, versions={**ledger.versions, fee.fee_id: fee.version}))


def credited_so_far(ledger: PlacementLedger, credited_line_id: str) -> Decimal:
    return -sum((x.amount for x in ledger.lines.values() if x.credited_line_id == credited_line_id), ZERO)


def apply_credit(ledger: PlacementLedger, request: CreditMemoRequest, today: dt.date,
                 original_amount: Decimal | None = None) -> LedgerUpdate:
    """A credit memo line (negative). Linked credits never exceed the original line, cumulatively.

    `original_amount` is the credited invoice line's amount when the caller knows it
    from the invoice; otherwise the pay line it came from (same ledger) is used.
    """
    if request.request_id in ledger.versions:
        return _unchanged(ledger)
    placement = ledger.placement
    if placement is None:
        raise UnknownPlacement(f"credit {request.request_id} refers to unknown placement {ledger.placement_id}")
    if request.amount <= 0:
        raise InvalidPayLineInput(f"credit {request.request_id}: amount must be positive, got {request.amount}")
    description = request.description or f"Credit: {request.reason}"
    if request.credited_invoice_id and original_amount is None:
        _check_credited_invoice(ledger, request)
    if request.credited_line_id:
        if original_amount is None:
            original = ledger.lines.get(request.credited_line_id)
            if original is None or original.status is not PayLineStatus.INVOICED:
                raise UnknownPayLine(f"credit {request.request_id}: {request.credited_line_id} is not an invoiced line "
                                     f"of placement {ledger.placement_id}")
            original_amount = original.amount
        already = credited_so_far(ledger, request.credited_line_id)
        if already + request.amount > original_amount:
            raise CreditExceedsOriginal(
                f"credit {request.request_id}: {request.amount} plus {already} already credited exceeds the original "
                f"line amount {original_amount}")
    line = PayLine(
        tenant_id=ledger.tenant_id, pay_line_id=f"{ledger.key}|CR|{request.request_id}", placement_id=ledger.placement_id,
        source=PayLineSource.CREDIT, description=description, quantity=Decimal(1), rate=-request.amount,
        amount=-request.amount, effective_date=request.effective_date, work_date=request.effective_date,
        taxable=_credit_taxable(ledger, request, placement),
        status=paylines.status_by_date(request.effective_date, today),
        credited_line_id=request.credited_line_id, credited_invoice_id=request.credited_invoice_id,
        reason=request.reason)
    lines = {**ledger.lines, line.pay_line_id: line}
    return LedgerUpdate(replace(ledger, lines=lines, versions={**ledger.versions, request.request_id: 0}), (line,))


def _check_credited_invoice(ledger: PlacementLedger, request: CreditMemoRequest) -> None:
    """A credit memo names a live invoice that bills this placement (and the credited line, if named).

    A voided invoice released its lines back to Pending: there is nothing left on it to credit
    (re-billing them is the correction). Crediting it anyway would lower what the client owes
    below what any live invoice says, so it is refused with the reason.
    """
    on_invoice = {k for k, x in ledger.lines.items()
                  if x.status is PayLineStatus.INVOICED and x.invoice_id == request.credited_invoice_id}
    if not on_invoice:
        raise UnknownPayLine(f"credit {request.request_id}: invoice {request.credited_invoice_id} bills nothing of "
                             f"placement {ledger.placement_id} (voided, or another placement's invoice)")
    if request.credited_line_id and request.credited_line_id not in on_invoice:
        raise UnknownPayLine(f"credit {request.request_id}: {request.credited_line_id} is not on invoice "
                             f"{request.credited_invoice_id}")


def _credit_taxable(ledger: PlacementLedger, request: CreditMemoRequest, placement: Placement) -> bool:
    """A credit reverses tax exactly when the credited line bore tax.

    Linked: the original line's flag. Unlinked (or the original is not in this ledger):
    the request's flag, else taxable unless the placement is PERM.
    """
    original = ledger.lines.get(request.credited_line_id) if request.credited_line_id else None
    if original is not None:
        return original.taxable
    if request.taxable is not None:
        return request.taxable
    return placement.placement_type is not PlacementType.PERM


def _edit(ledger: PlacementLedger, pay_line_id: str, fn) -> LedgerUpdate:
    line = ledger.lines.get(pay_line_id)
    if line is None:
        raise UnknownPayLine(f"no pay line {pay_line_id} on placement {ledger.placement_id}")
    new = fn(line)
    if new is line:
        return _unchanged(ledger)
    return LedgerUpdate(replace(ledger, lines={**ledger.lines, pay_line_id: new}))


def snooze(ledger: PlacementLedger, pay_line_id: str) -> LedgerUpdate:
    return _edit(ledger, pay_line_id, paylines.snooze)


def unsnooze(ledger: PlacementLedger, pay_line_id: str, today: dt.date) -> LedgerUpdate:
    return _edit(ledger, pay_line_id, lambda line: paylines.unsnooze(line, today))


def advance(ledger: PlacementLedger, today: dt.date) -> LedgerUpdate:
    """Scheduled lines whose date has come become Pending."""
    moved = {k: paylines.advance(v, today) for k, v in ledger.lines.items() if v.status is PayLineStatus.SCHEDULED}
    moved = {k: v for k, v in moved.items() if v is not ledger.lines[k]}
    if not moved:
        return _unchanged(ledger)
    return LedgerUpdate(replace(ledger, lines={**ledger.lines, **moved}))


def mark_invoiced(ledger: PlacementLedger, assignments: dict[str, str]) -> LedgerUpdate:
    """Lines drawn onto invoices as they are stored: {pay_line_id: invoice_id}. Idempotent.

    A window invoices the lines it collected, which may have changed since (see
    settle_invoiced, which the workers use); this is for callers holding the stored lines.
    """
    lines = dict(ledger.lines)
    changed = False
    for pay_line_id, invoice_id in assignments.items():
        line = lines.get(pay_line_id)
        if line is None:
            raise UnknownPayLine(f"no pay line {pay_line_id} on placement {ledger.placement_id}")
        new = paylines.mark_invoiced(line, invoice_id)
        changed |= new is not line
        lines[pay_line_id] = new
    return LedgerUpdate(replace(ledger, lines=lines), changed=changed) if changed else _unchanged(ledger)


def settle_invoiced(ledger: PlacementLedger, invoiced: Iterable[tuple[PayLine, str]], today: dt.date
                    ) -> LedgerUpdate:
    """A window's invoices are issued: store each line exactly as it was drawn onto its invoice.

    `invoiced` holds (the line as the window collected it, its invoice id). The invoice is
    the truth once it exists, so this never refuses a line because of what happened to the
    stored copy meanwhile: a Scheduled line whose date came (the window advanced it), a
    re-approval that re-rated or removed it, an operator's snooze. Whatever the slot now asks
    for beyond what its invoices bill becomes an adjustment line, so invoiced + outstanding
    still equals the newest input. Idempotent. Refuses (AlreadyInvoiced) only a line that is
    already on another invoice: billing it twice is the one thing settling must not do.
    """
    lines = dict(ledger.lines)
    added: list[PayLine] = []
    removed: list[str] = []
    for drawn, invoice_id in invoiced:
        current = lines.get(drawn.pay_line_id)
        if current is not None and current.status is PayLineStatus.INVOICED:
            if current.invoice_id != invoice_id:
                raise AlreadyInvoiced(
                    f"pay line {drawn.pay_line_id} is on invoice {current.invoice_id}; it cannot also be on "
                    f"{invoice_id}")
            continue
        slot = _slot_of(drawn.pay_line_id)
        in_slot = [x for x in lines.values() if _slot_of(x.pay_line_id) == slot]
        wanted_qty = sum((x.quantity for x in in_slot), ZERO)
        wanted_amt = sum((x.amount for x in in_slot), ZERO)
        held = any(x.status is PayLineStatus.SNOOZED for x in in_slot)
        template = current or drawn
        for stale in in_slot:
            if stale.status is not PayLineStatus.INVOICED:
                del lines[stale.pay_line_id]
                removed.append(stale.pay_line_id)
        lines[drawn.pay_line_id] = replace(drawn, status=PayLineStatus.INVOICED, invoice_id=invoice_id)
        billed = [x for x in lines.values() if _slot_of(x.pay_line_id) == slot]
        billed_qty = sum((x.quantity for x in billed), ZERO)
        billed_amt = sum((x.amount for x in billed), ZERO)
        if (wanted_qty, wanted_amt) != (billed_qty, billed_amt):
            adjustment = _adjustment(template, _free_adjustment_id(lines, slot, len(billed)), wanted_qty - billed_qty,
                                     wanted_amt - billed_amt, held, today)
            lines[adjustment.pay_line_id] = adjustment
            added.append(adjustment)
    if lines == ledger.lines:
        return _unchanged(ledger)
    return LedgerUpdate(replace(ledger, lines=lines), tuple(added), tuple(x for x in removed if x not in lines))


def release_invoice(ledger: PlacementLedger, invoice_id: str, today: dt.date) -> LedgerUpdate:
    """The invoice was voided: its lines return to Pending."""
    moved = {k: paylines.release(v, today) for k, v in ledger.lines.items()
             if v.status is PayLineStatus.INVOICED and v.invoice_id == invoice_id}
    if not moved:
        return _unchanged(ledger)
    return LedgerUpdate(replace(ledger, lines={**ledger.lines, **moved}))


def due_lines(ledger: PlacementLedger, period_end: dt.date, today: dt.date) -> list[PayLine]:
    """Lines a window ending `period_end` may invoice (Scheduled lines whose date came count)."""
    out = []
    for line in ledger.lines.values():
        line = paylines.advance(line, today)
        if paylines.is_billable(line, period_end):
            out.append(line)
    out.sort(key=lambda x: x.pay_line_id)
    return out

