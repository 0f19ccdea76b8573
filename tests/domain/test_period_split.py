"""A week that straddles a semi-monthly or monthly period end is billed by day in each period (issue 11, part 8).

The expectations come from a small reference written here from the calendar rules of seed 003
(semi-monthly: 1st-15th and 16th-end; monthly: the calendar month; weekly: never split), not from
backoffice.periods or backoffice.schedules.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice import ledger as L
from backoffice.model import BillingCycle, PayCode, PayLineSource, PayLineStatus, TimesheetApproval, TimesheetEntry
from tests.domain.factories import D, T, placement

MON, SUN = dt.date(2025, 9, 29), dt.date(2025, 10, 5)           # the week of Monday 29 Sep - Sunday 5 Oct 2025
SEMI_WEEK_END = dt.date(2025, 9, 21)                            # Monday 15 - Sunday 21 Sep 2025
AFTER = dt.date(2025, 11, 10)                                   # every day of these weeks is past
RATES = {PayCode.REG: D("40.00"), PayCode.OT: D("60.00")}
KEY = f"{T}:p1|TS|ts1|"


def day(n: int, week_ending: dt.date = SUN) -> dt.date:
    """Day n (0 = Monday) of the week ending `week_ending`."""
    return week_ending - dt.timedelta(days=6 - n)


def approval(entries, version=1, week_ending=SUN) -> TimesheetApproval:
    return TimesheetApproval(T, f"e-ts1-{version}", "ts1", "p1", week_ending,
                             tuple(TimesheetEntry(d, code, D(h)) for d, code, h in entries),
                             dt.datetime(2025, 10, 6, tzinfo=dt.timezone.utc), version, "Jo")


def ledger_on(cycle: BillingCycle, version=1):
    return L.apply_placement(L.empty_ledger(T, "p1"), placement(billing_cycle=cycle, version=version)).ledger


def week(hours_per_day=("8", "8", "8", "8", "8", "0", "0"), week_ending=SUN, ot=()):
    return [(day(n, week_ending), PayCode.REG, h) for n, h in enumerate(hours_per_day)] + \
           [(day(n, week_ending), PayCode.OT, h) for n, h in ot]


# -- the reference ---------------------------------------------------------------------------

def ref_period(cycle: BillingCycle, d: dt.date):
    if cycle is BillingCycle.MONTHLY:
        return (d.year, d.month)
    if cycle is BillingCycle.SEMI_MONTHLY:
        return (d.year, d.month, "first half" if d.day <= 15 else "second half")
    return "the week"


def ref_parts(cycle: BillingCycle, entries, rates=RATES) -> dict[tuple, tuple[Decimal, Decimal]]:
    """(pay code, period) -> (hours, amount rounded half-up per part) for the entries with hours."""
    hours: dict[tuple, Decimal] = {}
    for d, code, h in entries:
        hours[(code, ref_period(cycle, d))] = hours.get((code, ref_period(cycle, d)), Decimal(0)) + D(h)
    return {k: (h, (h * rates[k[0]]).quantize(Decimal("0.01"), ROUND_HALF_UP)) for k, h in hours.items() if h}


def timesheet_lines(led):
    return [x for x in led.lines.values() if x.pay_line_id.startswith(KEY)]


def billed_by_window(led, period_ends, today=AFTER):
    """Close each window in turn (a window invoices what is due by its period end): money per window."""
    out = []
    for end in period_ends:
        due = [x for x in L.due_lines(led, end, today) if x.pay_line_id.startswith(KEY)]
        out.append({(x.pay_code, x.work_date): x.amount for x in due})
        led = L.mark_invoiced(led, {x.pay_line_id: f"inv-{end}" for x in due}).ledger
    return out, led


# -- splitting ----------------------------------------------------------------------------------

def test_a_monthly_week_over_a_month_end_bills_29_30_sep_in_september_and_1_5_oct_in_october():
    entries = week(ot=[(1, "2")])          # REG 8h Mon-Fri, OT 2h on Tuesday 30 Sep
    led = L.apply_timesheet(ledger_on(BillingCycle.MONTHLY), approval(entries), AFTER).ledger
    september, october = ref_parts(BillingCycle.MONTHLY, [e for e in entries if e[0].month == 9]), \
        ref_parts(BillingCycle.MONTHLY, [e for e in entries if e[0].month == 10])
    windows, _ = billed_by_window(led, [dt.date(2025, 9, 30), dt.date(2025, 10, 31)])
    assert windows[0] == {(code, dt.date(2025, 9, 30)): amt for (code, _), (_, amt) in september.items()}
    assert windows[1] == {(code, SUN): amt for (code, _), (_, amt) in october.items()}
    assert windows[0] == {(PayCode.REG, dt.date(2025, 9, 30)): D("640.00"), (PayCode.OT, dt.date(2025, 9, 30)): D("120.00")}
    assert windows[1] == {(PayCode.REG, SUN): D("960.00")}
    lines = {x.pay_line_id: x for x in timesheet_lines(led)}
    assert set(lines) == {KEY + "REG|20250930", KEY + "REG|20251031", KEY + "OT|20250930"}
    sep, oct_ = lines[KEY + "REG|20250930"], lines[KEY + "REG|20251031"]
    assert (sep.quantity, sep.work_start, sep.work_date, sep.effective_date) == (D("16"), MON, dt.date(2025, 9, 30),
                                                                                   dt.date(2025, 9, 30))
    assert (oct_.quantity, oct_.work_start, oct_.work_date, oct_.effective_date) == (D("24"), dt.date(2025, 10, 1), SUN, SUN)
    assert "09/29/2025 - 09/30/2025" in sep.description and "10/01/2025 - 10/05/2025" in oct_.description
    assert lines[KEY + "OT|20250930"].work_start == dt.date(2025, 9, 30)


def test_the_september_part_is_scheduled_until_30_september_not_until_the_week_ends():
    led = L.apply_timesheet(ledger_on(BillingCycle.MONTHLY), approval(week()), dt.date(2025, 9, 30)).ledger
    status = {x.work_date: x.status for x in timesheet_lines(led)}
    assert status == {dt.date(2025, 9, 30): PayLineStatus.PENDING, SUN: PayLineStatus.SCHEDULED}


def test_a_semi_monthly_week_over_the_15th_bills_the_15th_in_the_first_half():
    entries = week(("7.5", "8", "8", "8", "8", "4", "0"), week_ending=SEMI_WEEK_END)   # Monday is the 15th
    led = L.apply_timesheet(ledger_on(BillingCycle.SEMI_MONTHLY), approval(entries, week_ending=SEMI_WEEK_END),
                            AFTER).ledger
    windows, _ = billed_by_window(led, [dt.date(2025, 9, 15), dt.date(2025, 9, 30)])
    assert windows[0] == {(PayCode.REG, dt.date(2025, 9, 15)): D("300.00")}            # 7.5h x 40
    assert windows[1] == {(PayCode.REG, SEMI_WEEK_END): D("1440.00")}                  # 36h x 40
    assert {x.pay_line_id for x in timesheet_lines(led)} == {KEY + "REG|20250915", KEY + "REG|20250930"}


def test_a_week_with_hours_only_before_the_month_end_is_billed_in_september():
    entries = week(("8", "8", "0", "0", "0", "0", "0"))
    led = L.apply_timesheet(ledger_on(BillingCycle.MONTHLY), approval(entries), AFTER).ledger
    windows, _ = billed_by_window(led, [dt.date(2025, 9, 30)])
    assert windows[0] == {(PayCode.REG, dt.date(2025, 9, 30)): D("640.00")}


# -- unchanged where there is nothing to split --------------------------------------------------

def test_a_weekly_placement_keeps_the_whole_week_on_todays_id_and_figures():
    entries = week(ot=[(1, "2")])
    led = L.apply_timesheet(ledger_on(BillingCycle.WEEKLY), approval(entries), AFTER).ledger
    lines = {x.pay_line_id: x for x in timesheet_lines(led)}
    assert set(lines) == {KEY + "REG", KEY + "OT"}
    reg = lines[KEY + "REG"]
    assert (reg.quantity, reg.amount, reg.work_date, reg.effective_date) == (D("40"), D("1600.00"), SUN, SUN)
    assert reg.description == "Ava Chen - Regular hours, week ending 10/05/2025"
    assert reg.work_start == MON and lines[KEY + "OT"].work_start == dt.date(2025, 9, 30)
    windows, _ = billed_by_window(led, [dt.date(2025, 9, 30), SUN])
    assert windows == [{}, {(PayCode.REG, SUN): D("1600.00"), (PayCode.OT, SUN): D("120.00")}]


def test_a_monthly_week_inside_one_month_keeps_todays_id_and_figures():
    week_ending = dt.date(2025, 10, 12)
    entries = week(week_ending=week_ending)
    led = L.apply_timesheet(ledger_on(BillingCycle.MONTHLY), approval(entries, week_ending=week_ending), AFTER).ledger
    (line,) = timesheet_lines(led)
    assert (line.pay_line_id, line.quantity, line.amount, line.work_date, line.work_start) == \
        (KEY + "REG", D("40"), D("1600.00"), week_ending, dt.date(2025, 10, 6))


# -- re-approvals --------------------------------------------------------------------------------

def test_reapproval_moving_hours_over_the_boundary_before_invoicing_replaces_both_parts():
    led = L.apply_timesheet(ledger_on(BillingCycle.MONTHLY), approval(week()), AFTER).ledger
    moved = week(("8", "0", "8", "8", "8", "8", "0"))                      # Tuesday's 8h moved to Saturday 4 Oct
    led = L.apply_timesheet(led, approval(moved, version=2), AFTER).ledger
    lines = {x.pay_line_id: (x.quantity, x.amount, x.source) for x in timesheet_lines(led)}
    assert lines == {KEY + "REG|20250930": (D("8"), D("320.00"), PayLineSource.TIMESHEET),
                     KEY + "REG|20251031": (D("32"), D("1280.00"), PayLineSource.TIMESHEET)}


def test_reapproval_after_september_is_invoiced_adjusts_september_and_replaces_october():
    led = L.apply_timesheet(ledger_on(BillingCycle.MONTHLY), approval(week()), AFTER).ledger
    windows, led = billed_by_window(led, [dt.date(2025, 9, 30)])
    invoiced = {x.pay_line_id: x for x in timesheet_lines(led) if x.status is PayLineStatus.INVOICED}
    assert list(invoiced) == [KEY + "REG|20250930"]
    moved = week(("8", "0", "8", "8", "8", "8", "0"))
    led = L.apply_timesheet(led, approval(moved, version=2), AFTER).ledger
    for key, line in invoiced.items():
        assert led.lines[key] == line                                     # an invoiced part never changes
    adjustment = led.lines[KEY + "REG|20250930|adj1"]
    assert (adjustment.source, adjustment.quantity, adjustment.amount, adjustment.work_date) == \
        (PayLineSource.TIMESHEET_ADJUSTMENT, D("-8"), D("-320.00"), dt.date(2025, 9, 30))
    october = led.lines[KEY + "REG|20251031"]
    assert (october.quantity, october.amount, october.status) == (D("32"), D("1280.00"), PayLineStatus.PENDING)
    windows, _ = billed_by_window(led, [dt.date(2025, 10, 31)])            # October's window takes both
    assert sum(windows[0].values()) == D("960.00")


def test_a_cycle_change_between_approvals_keeps_the_money_right_and_the_invoiced_part():
    led = L.apply_timesheet(ledger_on(BillingCycle.MONTHLY), approval(week()), AFTER).ledger
    _, led = billed_by_window(led, [dt.date(2025, 9, 30)])
    led = L.apply_placement(led, placement(billing_cycle=BillingCycle.WEEKLY, version=2)).ledger
    led = L.apply_timesheet(led, approval(week(), version=2), AFTER).ledger
    lines = {x.pay_line_id: (x.amount, x.status) for x in timesheet_lines(led)}
    assert lines == {KEY + "REG|20250930": (D("640.00"), PayLineStatus.INVOICED),
                     KEY + "REG|20250930|adj1": (D("-640.00"), PayLineStatus.PENDING),
                     KEY + "REG": (D("1600.00"), PayLineStatus.PENDING)}


# -- the invariant over any sequence ----------------------------------------------------------------

hours = st.sampled_from(["0", "4", "7.5", "8", "8.25", "10"])
step = st.tuples(st.lists(hours, min_size=7, max_size=7), st.lists(hours, min_size=7, max_size=7),
                 st.sampled_from(list(BillingCycle)),
                 st.sampled_from([None, dt.date(2025, 9, 15), dt.date(2025, 9, 30), SUN, dt.date(2025, 10, 31)]))


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=5), rate=st.sampled_from([D("40.00"), D("33.33"), D("10.05")]))
def test_money_per_timesheet_and_period_is_always_the_latest_approvals_and_invoiced_lines_never_change(steps, rate):
    """Approvals (REG and OT per day) on a placement whose cycle may change, each maybe followed by a window.

    After every step, the timesheet's money dated in each period (of the current cycle) is the latest
    approval's hours of that period x rate, and every line ever invoiced is still there, unchanged."""
    rates = {**RATES, PayCode.REG: rate}
    led = L.empty_ledger(T, "p1")
    invoiced_seen = {}
    for version, (reg, ot, cycle, window_end) in enumerate(steps, start=1):
        p = placement(billing_cycle=cycle, version=version, rates=tuple(rates.items()))
        led = L.apply_placement(led, p).ledger
        entries = week(reg, ot=list(enumerate(ot)))
        led = L.apply_timesheet(led, approval(entries, version=version), AFTER).ledger
        by_period: dict[tuple, Decimal] = {}
        for x in timesheet_lines(led):
            key = (x.pay_code, ref_period(cycle, x.work_date))
            by_period[key] = by_period.get(key, Decimal(0)) + x.amount
        assert {k: v for k, v in by_period.items() if v} == \
            {k: amt for k, (_, amt) in ref_parts(cycle, entries, rates).items()}
        for key, line in invoiced_seen.items():
            assert led.lines[key] == line
        if window_end is not None:
            _, led = billed_by_window(led, [window_end])
            invoiced_seen.update({x.pay_line_id: x for x in timesheet_lines(led) if x.status is PayLineStatus.INVOICED})
