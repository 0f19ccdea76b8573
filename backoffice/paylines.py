"""The pay-line status machine of seed 000.

Scheduled: effective date in the future. Pending: today or earlier. Snoozed: held
by an operator; un-snoozing returns it to Pending or Scheduled by date. Invoiced:
final. Every transition is a pure function that raises IllegalPayLineTransition
when the seed does not allow it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from backoffice.errors import IllegalPayLineTransition
from backoffice.model import PayLine, PayLineStatus

S = PayLineStatus


def status_by_date(effective_date: dt.date, today: dt.date) -> PayLineStatus:
    return S.SCHEDULED if effective_date > today else S.PENDING


def _refuse(line: PayLine, action: str) -> IllegalPayLineTransition:
    return IllegalPayLineTransition(f"cannot {action} pay line {line.pay_line_id}: it is {line.status.value}")


def advance(line: PayLine, today: dt.date) -> PayLine:
    """Scheduled lines become Pending when their effective date arrives; others are untouched."""
    if line.status is S.SCHEDULED and line.effective_date <= today:
        return replace(line, status=S.PENDING)
    return line


def snooze(line: PayLine) -> PayLine:
    if line.status is S.SNOOZED:
        return line
    if line.status not in (S.PENDING, S.SCHEDULED):
        raise _refuse(line, "snooze")
    return replace(line, status=S.SNOOZED)


def unsnooze(line: PayLine, today: dt.date) -> PayLine:
    if line.status is not S.SNOOZED:
        if line.status in (S.PENDING, S.SCHEDULED):
            return line
        raise _refuse(line, "un-snooze")
    return replace(line, status=status_by_date(line.effective_date, today))


def mark_invoiced(line: PayLine, invoice_id: str) -> PayLine:
    if line.status is S.INVOICED:
        if line.invoice_id == invoice_id:
            return line
        raise _refuse(line, f"invoice on {invoice_id}")
    if line.status is not S.PENDING:
        raise _refuse(line, "invoice")
    return replace(line, status=S.INVOICED, invoice_id=invoice_id)


def release(line: PayLine, today: dt.date) -> PayLine:
    """After its invoice is voided, a line goes back to Pending (or Scheduled by date)."""
    if line.status is not S.INVOICED:
        raise _refuse(line, "release")
    return replace(line, status=status_by_date(line.effective_date, today), invoice_id=None)


def is_billable(line: PayLine, period_end: dt.date) -> bool:
    """Pending, not snoozed, and worked within the window's period."""
    return line.status is S.PENDING and line.work_date <= period_end
