"""A re-approval never overwrites an invoiced line (found by the lifecycle model, issue 11).

Approve 8h (invoiced on inv1), re-approve 10h (the +2h adjustment `|adj1` invoiced on inv2),
void inv1 (its line goes back to Pending), re-approve 12h. The slot then holds one invoiced
line, so the new adjustment was named `|adj{1}` -- the id of the line invoiced on inv2,
which it replaced: inv2's line vanished from the ledger and the next window put `|adj1` on
a second live invoice.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backoffice import ledger as L
from backoffice.model import PayLineStatus
from tests.domain.factories import T, placement, timesheet

TODAY = dt.date(2026, 11, 30)


def outstanding(led: L.PlacementLedger):
    (line,) = [x for x in led.lines.values() if x.status is not PayLineStatus.INVOICED]
    return line


def test_a_reapproval_after_a_void_keeps_the_other_invoices_lines():
    led = L.apply_placement(L.empty_ledger(T, "p1"), placement()).ledger
    led = L.apply_timesheet(led, timesheet(reg="8"), TODAY).ledger
    led = L.settle_invoiced(led, [(outstanding(led), "inv1")], TODAY).ledger
    led = L.apply_timesheet(led, timesheet(reg="10", version=2), TODAY).ledger
    adjustment = outstanding(led)
    led = L.settle_invoiced(led, [(adjustment, "inv2")], TODAY).ledger
    led = L.release_invoice(led, "inv1", TODAY).ledger           # inv1 voided

    led = L.apply_timesheet(led, timesheet(reg="12", version=3), TODAY).ledger

    on_inv2 = led.lines.get(adjustment.pay_line_id)
    assert on_inv2 is not None and on_inv2.status is PayLineStatus.INVOICED and on_inv2.invoice_id == "inv2", \
        f"the line invoiced on inv2 became {on_inv2}"
    assert on_inv2.quantity == Decimal("2")
    new = outstanding(led)
    assert new.pay_line_id != adjustment.pay_line_id
    assert new.quantity == Decimal("10")                            # 12 asked, 2 still invoiced on inv2
    assert sum((x.quantity for x in led.lines.values()), Decimal(0)) == Decimal("12")
