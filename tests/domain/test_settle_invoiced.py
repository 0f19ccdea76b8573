"""Settling a window stores each line as its invoice drew it, whatever the stored copy
became between the Collect and the Settle (issue 11: lines billed twice)."""
import datetime as dt

import pytest

from backoffice import ledger as L
from backoffice.errors import AlreadyInvoiced
from backoffice.money import line_amount
from backoffice.model import PayLineSource, PayLineStatus
from tests.domain.factories import D, WEEK_END, fee, placement, timesheet

TODAY = dt.date(2026, 11, 24)


def ledger_with():
    return L.apply_placement(L.empty_ledger("t1", "p1"), placement()).ledger


def _invoice_due(led, period_end, as_of, invoice_id):
    """What a window does: draw the due lines, then settle them on its invoice."""
    drawn = L.due_lines(led, period_end, as_of)
    return drawn, L.settle_invoiced(led, [(x, invoice_id) for x in drawn], as_of).ledger


def test_scheduled_fee_whose_date_came_is_invoiced_once():
    """The double-billing reproduction: stored Scheduled, advanced by the window only in memory."""
    due_day = dt.date(2026, 12, 1)
    led = L.apply_fee(ledger_with(), fee(effective=due_day), TODAY).ledger
    assert [x.status for x in led.lines.values()] == [PayLineStatus.SCHEDULED]
    drawn, led = _invoice_due(led, dt.date(2026, 12, 6), dt.date(2026, 12, 7), "inv-1")
    assert len(drawn) == 1
    (line,) = led.lines.values()
    assert line.status is PayLineStatus.INVOICED and line.invoice_id == "inv-1"
    assert L.due_lines(led, dt.date(2026, 12, 13), dt.date(2026, 12, 14)) == []     # the next window bills nothing


def test_reapproval_between_collect_and_settle_keeps_invoice_and_adjusts():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40"), TODAY).ledger
    drawn = L.due_lines(led, WEEK_END, TODAY)
    led = L.apply_timesheet(led, timesheet(reg="44", version=2), TODAY).ledger     # arrives mid-window
    led = L.settle_invoiced(led, [(x, "inv-1") for x in drawn], TODAY).ledger
    invoiced = [x for x in led.lines.values() if x.status is PayLineStatus.INVOICED]
    assert [(x.quantity, x.amount) for x in invoiced] == [(drawn[0].quantity, drawn[0].amount)]
    (adj,) = [x for x in led.lines.values() if x.status is not PayLineStatus.INVOICED]
    assert adj.source is PayLineSource.TIMESHEET_ADJUSTMENT and adj.quantity == D("4")
    assert adj.amount == line_amount(D("44"), drawn[0].rate) - drawn[0].amount


def test_line_removed_between_collect_and_settle_is_reversed():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40", ot="2"), TODAY).ledger
    drawn = L.due_lines(led, WEEK_END, TODAY)
    led = L.apply_timesheet(led, timesheet(reg="40", version=2), TODAY).ledger     # the OT line goes away
    led = L.settle_invoiced(led, [(x, "inv-1") for x in drawn], TODAY).ledger
    total = sum((x.amount for x in led.lines.values()), D("0"))
    reg = next(x for x in drawn if x.pay_code.value == "REG")
    assert total == reg.amount
    assert sum(1 for x in led.lines.values() if x.status is PayLineStatus.INVOICED) == 2


def test_settle_is_idempotent_and_refuses_a_second_invoice():
    led = L.apply_fee(ledger_with(), fee(), TODAY).ledger
    drawn, led = _invoice_due(led, TODAY, TODAY, "inv-1")
    assert not L.settle_invoiced(led, [(x, "inv-1") for x in drawn], TODAY).changed
    with pytest.raises(AlreadyInvoiced, match="inv-1"):
        L.settle_invoiced(led, [(x, "inv-2") for x in drawn], TODAY)
