"""An independent reference for the lifecycle model test: what the billing SHOULD be.

Written from the seeds (000, 003) and issue 11, not from `backoffice/`: nothing here
imports the domain. It keeps the raw inputs (placements, approvals, fees, credits) and
answers, from them alone: what a line is worth (hours x rate, half-up to the cent),
when an item becomes billable, which batch windows run when (in the agency's zone,
across DST), and whether a credit must be refused. The state machine compares the
domain's documents against these answers.
"""
from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("America/New_York")
CYCLES = ("WEEKLY", "SEMI_MONTHLY", "MONTHLY")
INVOICE_DELAY = dt.timedelta(days=2)
WEEKLY_RUN_TIME = dt.time(13, 0)        # seed 003: Sunday week ending, delay 2, 13:00 -> Tuesday 13:00


def half_up_cents(value: Decimal) -> Decimal:
    """Half-up (away from zero) to the cent, by integer arithmetic on the exact value."""
    sign = -1 if value < 0 else 1
    hundredths = abs(value) * 100
    whole = int(hundredths)                       # truncates toward zero
    if hundredths - whole >= Decimal("0.5"):
        whole += 1
    return (Decimal(sign * whole) / 100).quantize(Decimal("0.01"))


# --- batch windows -------------------------------------------------------------------

def _month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period_of(cycle: str, day: dt.date) -> tuple[dt.date, dt.date]:
    """The period (start, end) of `cycle` that contains `day`."""
    if cycle == "WEEKLY":
        end = day + dt.timedelta(days=(6 - day.weekday()) % 7)     # the Sunday on or after
        return end - dt.timedelta(days=6), end
    if cycle == "SEMI_MONTHLY":
        if day.day <= 15:
            return day.replace(day=1), day.replace(day=15)
        return day.replace(day=16), _month_end(day)
    return day.replace(day=1), _month_end(day)


def run_instant(cycle: str, period_end: dt.date) -> dt.datetime:
    """When the window closing `period_end` runs, as a UTC instant.

    Weekly: Tuesday 13:00 local; semi-monthly: 00:00 local two days after the period;
    monthly: 00:00 local on the 3rd of the next month. None of these wall times is
    skipped or repeated by New York's DST changes (those happen at 02:00)."""
    if cycle == "WEEKLY":
        local = dt.datetime.combine(period_end + INVOICE_DELAY, WEEKLY_RUN_TIME)
    elif cycle == "SEMI_MONTHLY":
        local = dt.datetime.combine(period_end + INVOICE_DELAY, dt.time(0))
    else:
        local = dt.datetime.combine(period_end + dt.timedelta(days=1) + INVOICE_DELAY, dt.time(0))
    return local.replace(tzinfo=ZONE).astimezone(dt.timezone.utc)


def windows_running_in(start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, str, dt.date]]:
    """Every (run instant, cycle, period end) with start < run instant <= end, in run order."""
    out = []
    day = start.astimezone(ZONE).date() - dt.timedelta(days=40)
    last = end.astimezone(ZONE).date()
    while day <= last:
        for cycle in CYCLES:
            _, period_end = period_of(cycle, day)
            if period_end == day:
                run = run_instant(cycle, period_end)
                if start < run <= end:
                    out.append((run, cycle, period_end))
        day += dt.timedelta(days=1)
    return sorted(out, key=lambda w: (w[0], CYCLES.index(w[1])))


def next_run(cycle: str, after: dt.datetime) -> dt.datetime:
    day = after.astimezone(ZONE).date() - dt.timedelta(days=40)
    while True:
        _, period_end = period_of(cycle, day)
        run = run_instant(cycle, period_end)
        if run > after:
            return run
        day = period_end + dt.timedelta(days=1)


# --- raw inputs -----------------------------------------------------------------------

@dataclass
class RefPlacement:
    placement_id: str
    account: str
    mode: str                       # AUTOMATIC / SEMI_AUTOMATIC / MANUAL
    cycle: str
    placement_type: str
    rates: dict[str, Decimal]


@dataclass
class RefTimesheet:
    timesheet_id: str
    placement_id: str
    week_ending: dt.date
    version: int
    days: tuple[tuple[dt.date, str, Decimal], ...]      # (work date, pay code, hours) of the latest approval


@dataclass
class RefFee:
    fee_id: str
    placement_id: str
    version: int
    amount: Decimal
    effective: dt.date
    all_dates: set[dt.date] = field(default_factory=set)


@dataclass
class RefCredit:
    request_id: str
    placement_id: str
    amount: Decimal
    effective: dt.date
    credited_line_id: str | None


@dataclass
class ReferenceModel:
    placements: dict[str, RefPlacement] = field(default_factory=dict)
    timesheets: dict[str, RefTimesheet] = field(default_factory=dict)
    fees: dict[str, RefFee] = field(default_factory=dict)
    credits: dict[str, RefCredit] = field(default_factory=dict)

    # -- inputs -------------------------------------------------------------------
    def approval_refused(self, timesheet_id: str, placement_id: str, version: int, days) -> str | None:
        """Why the domain must refuse an approval: negative hours, or a pay code without a rate.
        A replay (version not newer than the applied one) is ignored, not refused."""
        current = self.timesheets.get(timesheet_id)
        if current is not None and version <= current.version:
            return None
        rates = self.placements[placement_id].rates
        for _, code, hours in days:
            if hours < 0:
                return "negative hours"
            if code not in rates:
                return f"no {code} bill rate"
        return None

    def approve(self, timesheet_id: str, placement_id: str, week_ending: dt.date, version: int, days) -> None:
        current = self.timesheets.get(timesheet_id)
        if current is not None and version <= current.version:
            return                                   # a replay or an older approval changes nothing
        self.timesheets[timesheet_id] = RefTimesheet(timesheet_id, placement_id, week_ending, version, tuple(days))

    def realize_fee(self, fee_id: str, placement_id: str, version: int, quantity: Decimal, unit_price: Decimal,
                    effective: dt.date) -> None:
        current = self.fees.get(fee_id)
        if current is not None and version <= current.version:
            return
        dates = (current.all_dates if current else set()) | {effective}
        self.fees[fee_id] = RefFee(fee_id, placement_id, version, half_up_cents(quantity * unit_price), effective,
                                   dates)

    def credit_refused(self, amount: Decimal, credited_line_id: str | None, original_amount: Decimal | None
                       ) -> bool:
        """Seed 003: the credit Amount is credited back; cumulatively never above the original line."""
        if amount <= 0:
            return True
        if credited_line_id is None:
            return False
        return self.credited(credited_line_id) + amount > original_amount

    def credited(self, credited_line_id: str) -> Decimal:
        return sum((c.amount for c in self.credits.values() if c.credited_line_id == credited_line_id),
                   Decimal("0"))

    def add_credit(self, credit: RefCredit) -> None:
        self.credits[credit.request_id] = credit

    # -- expectations -------------------------------------------------------------
    def timesheet_amounts(self, timesheet_id: str) -> dict[str, set[Decimal]]:
        """Per pay code, the amounts the latest approval may be billed at in total.

        Two are accepted: the whole week rounded once (one line per pay code), or, for
        semi-monthly/monthly accounts, the week split at the period end with each part
        rounded on its own (issue 11 part 8). Weekly accounts: both are the same."""
        ts = self.timesheets[timesheet_id]
        placement = self.placements[ts.placement_id]
        out: dict[str, set[Decimal]] = {}
        for code in {c for _, c, _ in ts.days} | set(placement.rates):
            hours = [(day, h) for day, c, h in ts.days if c == code]
            rate = placement.rates.get(code, Decimal(0))
            whole = half_up_cents(sum((h for _, h in hours), Decimal(0)) * rate)
            parts: dict[dt.date, Decimal] = {}
            for day, h in hours:
                end = period_of(placement.cycle, day)[1]
                parts[end] = parts.get(end, Decimal(0)) + h
            split = sum((half_up_cents(h * rate) for h in parts.values()), Decimal("0.00"))
            out[code] = {whole, split}
        return out

    def timesheet_due(self, timesheet_id: str, period_end: dt.date, as_of: dt.date) -> bool:
        """The whole week is billable: its last day is inside the period and has come."""
        ts = self.timesheets[timesheet_id]
        return ts.week_ending <= period_end and ts.week_ending <= as_of

    def in_window(self, placement_id: str, cycle: str | None, on_demand: bool, account: str | None) -> bool:
        """Seed 003: batch windows skip manual-mode accounts; Generate on demand takes every
        account (or just the one asked for). A window closes one billing cycle."""
        placement = self.placements[placement_id]
        if account is not None and placement.account != account:
            return False
        if on_demand:
            return True
        return placement.mode != "MANUAL" and placement.cycle == cycle
