"""Issue 11, first bullet, at the domain level: a fee dated in the future is billed once.

The minimal case the lifecycle model found: the fee is stored Scheduled; its date comes;
window 1 draws it (`due_lines` sees it as Pending) and settles; window 2 must not draw it
again. Before `ledger.settle_invoiced`, the settle was `ledger.mark_invoiced`, which
refuses a line stored Scheduled: the worker's agent crashed, the stored ledger stayed as
it was, and window 2 billed the fee a second time.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from backoffice import ledger as L
from backoffice.errors import DomainError
from backoffice.generation import GenerationRequest, generate_invoices
from backoffice.model import FeeKind, FeeRealized, PayLineStatus
from backoffice.numbering import TenantSequence
from tests.domain.factories import T, hierarchy, placement
from tests.domain.lifecycle_driver import settle_step

REALIZED_ON = dt.date(2026, 11, 2)
FEE_DATE = dt.date(2026, 11, 10)          # in the future when realized: stored Scheduled


def close_window(led: L.PlacementLedger, sequence: TenantSequence, period_end: dt.date, as_of: dt.date):
    """What a weekly window does with one ledger: due lines, generate, settle (as the workers do)."""
    due = L.due_lines(led, period_end, as_of)
    request = GenerationRequest(T, f"WEEKLY:{period_end}", as_of, period_end - dt.timedelta(days=6), period_end,
                                dt.datetime.combine(as_of, dt.time(13), tzinfo=dt.timezone.utc))
    result = generate_invoices(due, {led.placement_id: led.placement}, hierarchy(), sequence, request)
    drafted = {x.pay_line_id: x for x in due}
    try:
        led = settle_step(led, [(drafted[k], inv) for k, inv in result.assignments.items()], as_of)
    except DomainError:
        pass            # the agent crashed on the refusal; the stored ledger is what it was
    return led, result


def test_a_future_dated_fee_is_invoiced_once_when_its_date_has_come():
    led = L.apply_placement(L.empty_ledger(T, "p1"), placement()).ledger
    fee = FeeRealized(T, "e-f1", "f1", "p1", FeeKind.PRODUCT, "Laptop", Decimal(1), Decimal("1200.00"), FEE_DATE)
    led = L.apply_fee(led, fee, REALIZED_ON).ledger
    (line,) = led.lines.values()
    assert line.status is PayLineStatus.SCHEDULED

    led, first = close_window(led, TenantSequence(T), dt.date(2026, 11, 15), dt.date(2026, 11, 17))
    assert [x.pay_line_id for inv in first.invoices for x in inv.lines] == [line.pay_line_id]
    stored = led.lines[line.pay_line_id]
    assert stored.status is PayLineStatus.INVOICED and stored.invoice_id == first.invoices[0].invoice_id

    led, second = close_window(led, first.sequence, dt.date(2026, 11, 22), dt.date(2026, 11, 24))
    assert second.invoices == (), "window 2 billed the fee again"
