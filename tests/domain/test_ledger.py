import datetime as dt
from decimal import Decimal

import pytest

from backoffice import ledger as L
from backoffice.errors import (
    CreditExceedsOriginal, IllegalPayLineTransition, MissingBillRate, PlacementCancelled, UnknownPayLine, UnknownPlacement,
)
from backoffice.model import CreditMemoRequest, FeeKind, PayLineSource, PayLineStatus, PlacementStatus, PlacementType
from tests.domain.factories import D, WEEK_END, fee, placement, timesheet

TODAY = dt.date(2026, 11, 24)


def ledger_with(p=None):
    return L.apply_placement(L.empty_ledger("t1", "p1"), p or placement()).ledger


def test_timesheet_yields_one_line_per_pay_code_hours_times_rate():
    up = L.apply_timesheet(ledger_with(), timesheet(reg="37.5", ot="2.25"), TODAY)
    lines = {x.pay_code.value: x for x in up.ledger.lines.values()}
    assert set(lines) == {"REG", "OT"}
    assert lines["REG"].amount == D("1500.00") and lines["OT"].amount == D("135.00")
    assert all(x.status is PayLineStatus.PENDING and x.work_date == WEEK_END for x in lines.values())


def test_line_amount_rounds_half_up():
    p = placement(rates=((L.PayCode.REG, D("10.05")),))
    up = L.apply_timesheet(ledger_with(p), timesheet(reg="2.5"), TODAY)
    # 2.5 x 10.05 = 25.125: half-up gives 25.13 where banker's (half-even) rounding would give 25.12
    assert next(iter(up.ledger.lines.values())).amount == D("25.13")


def test_reapproval_before_invoicing_replaces_lines():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40", ot="5"), TODAY).ledger
    led = L.apply_timesheet(led, timesheet(reg="38", version=2), TODAY).ledger
    assert [(x.pay_code.value, x.quantity) for x in led.lines.values()] == [("REG", D("38"))]


def test_lower_or_equal_version_is_ignored():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40", version=2), TODAY).ledger
    up = L.apply_timesheet(led, timesheet(reg="10", version=2), TODAY)
    assert not up.changed and up.ledger is led
    assert not L.apply_timesheet(led, timesheet(reg="10", version=1), TODAY).changed


def test_reapproval_after_invoicing_yields_adjustments_never_edits():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40", ot="4"), TODAY).ledger
    led = L.mark_invoiced(led, {k: "inv-1" for k in led.lines}).ledger
    invoiced_before = dict(led.lines)
    led = L.apply_timesheet(led, timesheet(reg="42", version=2), TODAY).ledger
    for key, line in invoiced_before.items():
        assert led.lines[key] == line        # invoiced lines untouched
    adjustments = {x.pay_code.value: x for x in led.lines.values() if x.source is PayLineSource.TIMESHEET_ADJUSTMENT}
    assert adjustments["REG"].quantity == D("2") and adjustments["REG"].amount == D("80.00")
    assert adjustments["OT"].quantity == D("-4") and adjustments["OT"].amount == D("-240.00")
    assert all(x.status is PayLineStatus.PENDING for x in adjustments.values())


def test_second_reapproval_replaces_the_pending_adjustment():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40"), TODAY).ledger
    led = L.mark_invoiced(led, {k: "inv-1" for k in led.lines}).ledger
    led = L.apply_timesheet(led, timesheet(reg="42", version=2), TODAY).ledger
    led = L.apply_timesheet(led, timesheet(reg="41", version=3), TODAY).ledger
    adjustments = [x for x in led.lines.values() if x.source is PayLineSource.TIMESHEET_ADJUSTMENT]
    assert [(x.quantity, x.amount) for x in adjustments] == [(D("1"), D("40.00"))]


def test_missing_bill_rate_and_unknown_placement_are_named_errors():
    with pytest.raises(MissingBillRate):
        L.apply_timesheet(ledger_with(), timesheet(dt_hours="4"), TODAY)
    with pytest.raises(UnknownPlacement):
        L.apply_timesheet(L.empty_ledger("t1", "p1"), timesheet(), TODAY)


def test_cancelled_placement_stops_producing_lines():
    led = ledger_with(placement(status=PlacementStatus.CANCELLED))
    with pytest.raises(PlacementCancelled):
        L.apply_timesheet(led, timesheet(), TODAY)
    with pytest.raises(PlacementCancelled):
        L.apply_fee(led, fee(), TODAY)


def test_fee_with_future_date_is_scheduled_then_pending():
    led = L.apply_fee(ledger_with(), fee(effective=dt.date(2026, 12, 1)), TODAY).ledger
    (line,) = led.lines.values()
    assert line.status is PayLineStatus.SCHEDULED
    assert L.due_lines(led, dt.date(2026, 12, 31), TODAY) == []
    led = L.advance(led, dt.date(2026, 12, 1)).ledger
    assert next(iter(led.lines.values())).status is PayLineStatus.PENDING


def test_snooze_unsnooze_and_illegal_transitions():
    led = L.apply_fee(ledger_with(), fee(), TODAY).ledger
    (key,) = led.lines
    led = L.snooze(led, key).ledger
    assert led.lines[key].status is PayLineStatus.SNOOZED
    assert L.due_lines(led, TODAY, TODAY) == []
    led = L.unsnooze(led, key, TODAY).ledger
    assert led.lines[key].status is PayLineStatus.PENDING
    led = L.mark_invoiced(led, {key: "inv-1"}).ledger
    with pytest.raises(IllegalPayLineTransition, match="INVOICED"):
        L.snooze(led, key)
    assert L.mark_invoiced(led, {key: "inv-1"}).changed is False     # idempotent
    with pytest.raises(IllegalPayLineTransition):
        L.mark_invoiced(led, {key: "inv-2"})


def test_unsnooze_returns_to_scheduled_when_date_is_future():
    led = L.apply_fee(ledger_with(), fee(effective=dt.date(2027, 1, 5)), TODAY).ledger
    (key,) = led.lines
    led = L.unsnooze(L.snooze(led, key).ledger, key, TODAY).ledger
    assert led.lines[key].status is PayLineStatus.SCHEDULED


def test_void_release_returns_lines_to_pending():
    led = L.apply_fee(ledger_with(), fee(), TODAY).ledger
    (key,) = led.lines
    led = L.mark_invoiced(led, {key: "inv-1"}).ledger
    led = L.release_invoice(led, "inv-1", TODAY).ledger
    assert led.lines[key].status is PayLineStatus.PENDING and led.lines[key].invoice_id is None


def test_credit_never_exceeds_the_original_line_cumulatively():
    led = L.apply_fee(ledger_with(), fee(price="1000.00"), TODAY).ledger
    (key,) = led.lines
    led = L.mark_invoiced(led, {key: "inv-1"}).ledger

    def credit(rid, amount):
        return CreditMemoRequest("t1", rid, "p1", D(amount), "falloff", TODAY, key, "inv-1")

    led = L.apply_credit(led, credit("c1", "600.00"), TODAY).ledger
    with pytest.raises(CreditExceedsOriginal):
        L.apply_credit(led, credit("c2", "400.01"), TODAY)
    led = L.apply_credit(led, credit("c2", "400.00"), TODAY).ledger
    credits = [x for x in led.lines.values() if x.is_credit]
    assert sorted(x.amount for x in credits) == [D("-600.00"), D("-400.00")]
    assert all(x.credited_invoice_id == "inv-1" for x in credits)
    assert L.apply_credit(led, credit("c2", "400.00"), TODAY).changed is False   # replay


def test_unlinked_credit_from_a_placement():
    led = ledger_with()
    req = CreditMemoRequest("t1", "c9", "p1", D("50"), "goodwill", TODAY)
    (line,) = L.apply_credit(led, req, TODAY).added
    assert line.amount == D("-50") and line.credited_line_id is None


def test_fee_f1_leaves_pending_fee_f10_alone():
    led = L.apply_fee(ledger_with(), fee("f10", price="200.00"), TODAY).ledger
    led = L.apply_fee(led, fee("f1", price="100.00"), TODAY).ledger
    by_fee = {x.fee_id: x.amount for x in led.lines.values()}
    assert by_fee == {"f1": D("100.00"), "f10": D("200.00")}


def test_fee_f1_makes_no_adjustment_against_invoiced_fee_f10():
    led = L.apply_fee(ledger_with(), fee("f10", price="200.00"), TODAY).ledger
    led = L.mark_invoiced(led, {k: "inv-1" for k in led.lines}).ledger
    up = L.apply_fee(led, fee("f1", price="100.00"), TODAY)
    assert [(x.fee_id, x.source, x.amount) for x in up.added] == [("f1", PayLineSource.FEE, D("100.00"))]
    assert up.removed == ()
    assert sorted((x.fee_id, x.status) for x in up.ledger.lines.values()) == [
        ("f1", PayLineStatus.PENDING), ("f10", PayLineStatus.INVOICED)]


def _credit_invoiced_fee(led, a_fee, amount):
    """Invoice the fee's line, credit `amount` of it; the credit line and its memo at the factories' 8.25%."""
    from backoffice.consolidation import consolidate
    from tests.domain.factories import hierarchy
    led = L.apply_fee(led, a_fee, TODAY).ledger
    (key,) = led.lines
    led = L.mark_invoiced(led, {key: "inv-1"}).ledger
    request = CreditMemoRequest("t1", "c1", "p1", D(amount), "dispute", TODAY, key, "inv-1")
    line, = L.apply_credit(led, request, TODAY).added
    memo, = consolidate([line], {"p1": led.placement}, hierarchy(), tenant_id="t1", batch_id="b1",
                        issue_date=TODAY, period_start=TODAY, period_end=TODAY)
    return line, memo


def test_crediting_a_non_taxable_service_line_reverses_no_tax():
    service = fee("s1", price="500.00", kind=FeeKind.SERVICE, taxable=False)
    line, memo = _credit_invoiced_fee(ledger_with(), service, "100.00")
    assert line.taxable is False
    assert memo.tax == D("0.00") and memo.total == D("-100.00")


def test_crediting_a_taxable_product_on_a_perm_placement_reverses_its_tax():
    product = fee("pr1", price="100.00", kind=FeeKind.PRODUCT, taxable=True)
    line, memo = _credit_invoiced_fee(ledger_with(placement(ptype=PlacementType.PERM)), product, "100.00")
    assert line.taxable is True
    assert memo.tax == D("-8.25") and memo.total == D("-108.25")


def test_unlinked_credit_taxable_defaults_by_placement_type_unless_given():
    temp, perm = ledger_with(), ledger_with(placement(ptype=PlacementType.PERM))

    def req(taxable=None):
        return CreditMemoRequest("t1", "c1", "p1", D("10"), "goodwill", TODAY, taxable=taxable)

    assert [L.apply_credit(temp, req(), TODAY).added[0].taxable,
            L.apply_credit(perm, req(), TODAY).added[0].taxable,
            L.apply_credit(temp, req(False), TODAY).added[0].taxable,
            L.apply_credit(perm, req(True), TODAY).added[0].taxable] == [True, False, False, True]


def test_reapproving_a_snoozed_timesheet_keeps_the_hold():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40"), TODAY).ledger
    (key,) = led.lines
    led = L.snooze(led, key).ledger
    led = L.apply_timesheet(led, timesheet(reg="38", version=2), TODAY).ledger
    assert [(k, x.quantity, x.status) for k, x in led.lines.items()] == [(key, D("38"), PayLineStatus.SNOOZED)]
    assert L.due_lines(led, WEEK_END, TODAY) == []
    assert L.unsnooze(led, key, TODAY).ledger.lines[key].status is PayLineStatus.PENDING


def test_a_snoozed_adjustment_stays_snoozed_when_replaced():
    led = L.apply_timesheet(ledger_with(), timesheet(reg="40"), TODAY).ledger
    led = L.mark_invoiced(led, {k: "inv-1" for k in led.lines}).ledger
    up = L.apply_timesheet(led, timesheet(reg="42", version=2), TODAY)
    (adj,) = up.added
    led = L.snooze(up.ledger, adj.pay_line_id).ledger
    (adj,) = L.apply_timesheet(led, timesheet(reg="45", version=3), TODAY).added
    assert adj.amount == D("200.00") and adj.status is PayLineStatus.SNOOZED


def test_refreshing_a_snoozed_fee_keeps_the_hold():
    led = L.apply_fee(ledger_with(), fee(price="100.00"), TODAY).ledger
    (key,) = led.lines
    led = L.apply_fee(L.snooze(led, key).ledger, fee(price="120.00", version=2), TODAY).ledger
    assert (led.lines[key].amount, led.lines[key].status) == (D("120.00"), PayLineStatus.SNOOZED)


def test_a_credit_naming_a_voided_invoice_is_refused():
    """Voiding released the lines to Pending: a credit on that invoice would lower the balance below
    every live document. Refused, linked or not; the line's new invoice can be credited."""
    led = L.apply_fee(ledger_with(), fee(price="1000.00"), TODAY).ledger
    (key,) = led.lines
    led = L.mark_invoiced(led, {key: "inv-1"}).ledger
    led = L.release_invoice(led, "inv-1", TODAY).ledger                       # inv-1 voided
    for linked in (key, None):
        with pytest.raises(UnknownPayLine, match="inv-1 bills nothing"):
            L.apply_credit(led, CreditMemoRequest("t1", "c1", "p1", D("10"), "dispute", TODAY, linked, "inv-1"), TODAY)
    led = L.mark_invoiced(led, {key: "inv-2"}).ledger                         # billed again on inv-2
    led = L.apply_fee(led, fee("f2", price="50.00"), TODAY).ledger
    (other,) = set(led.lines) - {key}
    led = L.mark_invoiced(led, {other: "inv-3"}).ledger
    with pytest.raises(UnknownPayLine, match="not on invoice inv-3"):
        L.apply_credit(led, CreditMemoRequest("t1", "c1", "p1", D("10"), "dispute", TODAY, key, "inv-3"), TODAY)
    (line,) = L.apply_credit(led, CreditMemoRequest("t1", "c1", "p1", D("10"), "dispute", TODAY, key, "inv-2"),
                             TODAY).added
    assert line.amount == D("-10") and line.credited_invoice_id == "inv-2"
