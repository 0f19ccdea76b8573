"""Pay-line events for billing.paylines: what changed between two versions of a ledger record.

Pure (no I/O, no clock): the ledger table's single write path (workers.state.ObservedTable)
calls `changes(before, after, at)` on every write, whatever agent made it, stores
`stamped(after, events)` (the per-line versions live in the record, so a replay after a
crash yields the same versions and a consumer keeping the highest is idempotent) and sends
the events. Amounts are the domain's own (PayLine.amount), never recomputed here.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import replace

from backoffice.model import PayLine, PayLineSource, PayLineStatus
from backoffice.periods import period_end_of
from workers.ledger_logic import LedgerRecord

#: Placement fields every event carries: a change of any of them re-sends every line.
_PLACEMENT_FIELDS = ("placement_type", "company_id", "client_id", "office_id", "billing_cycle")


def _placement_view(record: LedgerRecord | None) -> tuple | None:
    placement = record.ledger.placement if record is not None else None
    return None if placement is None else tuple(getattr(placement, f) for f in _PLACEMENT_FIELDS)


def _classify(old: PayLine, new: PayLine, old_window: str | None, new_window: str | None) -> str:
    """The one change a reader cares most about when several happened in one write."""
    if old.status is not new.status:
        if new.status is PayLineStatus.INVOICED:
            return "INVOICED"
        if old.status is PayLineStatus.INVOICED:
            return "VOIDED"
        if new.status is PayLineStatus.SNOOZED:
            return "SNOOZED"
        if old.status is PayLineStatus.SNOOZED:
            return "UNSNOOZED"
    if (old.quantity, old.rate, old.amount) != (new.quantity, new.rate, new.amount):
        return "RERATED"
    if old.status is PayLineStatus.SCHEDULED and new.status is PayLineStatus.PENDING:
        return "DUE"
    if new_window is not None and new_window != old_window:
        return "RESERVED"
    if old_window is not None and new_window is None:
        return "RELEASED"
    return "UPDATED"


def changes(before: LedgerRecord | None, after: LedgerRecord, at: dt.datetime) -> list[dict]:
    """One PayLineEvent record per pay line whose state (line, reservation, placement fields)
    differs between `before` and `after`; [] when nothing a reader sees changed."""
    old_lines = before.ledger.lines if before is not None else {}
    new_lines = after.ledger.lines
    old_reserved = before.reserved if before is not None else {}
    new_reserved = after.reserved
    versions = (before.line_versions if before is not None else None) or {}
    placement_moved = _placement_view(before) != _placement_view(after)
    found: dict[str, tuple[str, PayLine, bool]] = {}        # id -> (change, line, removed)
    for line_id, new in new_lines.items():
        old = old_lines.get(line_id)
        old_window, new_window = old_reserved.get(line_id), new_reserved.get(line_id)
        if old is None:
            found[line_id] = ("CREATED", new, False)
        elif old is not new and old != new or old_window != new_window:
            found[line_id] = (_classify(old, new, old_window, new_window), new, False)
        elif placement_moved:
            found[line_id] = ("UPDATED", new, False)
        if old is None and new.source is PayLineSource.CREDIT and new.credited_line_id in new_lines \
                and new.credited_line_id not in found:
            found[new.credited_line_id] = ("CREDITED", new_lines[new.credited_line_id], False)
    for line_id, old in old_lines.items():
        if line_id not in new_lines:
            found[line_id] = ("REMOVED", old, True)
    return [_event(after, line, change, versions.get(line_id, 0) + 1, removed, new_reserved.get(line_id), at)
            for line_id, (change, line, removed) in sorted(found.items())]


def current(record: LedgerRecord, at: dt.datetime) -> list[dict]:
    """The record's lines as they stand, each with the version it was last sent with: what a
    replay re-sends when it finds the record already written (a crash between the table write
    and the send lost those events; re-sending is idempotent for a consumer keeping the highest
    version, and carries the same event ids). A line removed from the record cannot be re-sent."""
    versions = record.line_versions or {}
    return [_event(record, line, "UPDATED", versions.get(line_id, 0), False, record.reserved.get(line_id), at)
            for line_id, line in sorted(record.ledger.lines.items())]


def stamped(after: LedgerRecord, events: list[dict]) -> LedgerRecord:
    """`after` remembering the version each event carried."""
    if not events:
        return after
    return replace(after, line_versions={**(after.line_versions or {}),
                                         **{e["pay_line_id"]: e["version"] for e in events}})


def _event(record: LedgerRecord, line: PayLine, change: str, version: int, removed: bool, window: str | None,
           at: dt.datetime) -> dict:
    placement = record.ledger.placement
    cycle = placement.billing_cycle if placement is not None else None
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"payline:{line.pay_line_id}:{version}")),
        "tenant_id": line.tenant_id, "occurred_at": at, "change": change, "version": version,
        "pay_line_id": line.pay_line_id, "placement_id": line.placement_id,
        "placement_type": placement.placement_type.value if placement is not None else None,
        "account_id": placement.company_id if placement is not None else None,
        "client_id": placement.client_id if placement is not None else None,
        "office_id": placement.office_id if placement is not None else None,
        "billing_cycle": cycle.value if cycle is not None else None,
        "status": "REMOVED" if removed else line.status.value,
        "source": line.source.value, "category": line.category.value, "description": line.description,
        "quantity": line.quantity, "rate": line.rate, "amount": line.amount, "taxable": line.taxable,
        "effective_date": line.effective_date, "work_date": line.work_date, "work_start": line.work_start,
        "period_end": period_end_of(cycle, line.work_date) if cycle is not None else None,
        "pay_code": line.pay_code.value if line.pay_code is not None else None,
        "timesheet_id": line.timesheet_id, "fee_id": line.fee_id,
        "fee_kind": line.fee_kind.value if line.fee_kind is not None else None,
        "credited_line_id": line.credited_line_id, "credited_invoice_id": line.credited_invoice_id,
        "reason": line.reason, "window_key": None if removed else window,
        "invoice_id": None if removed else line.invoice_id,
    }
