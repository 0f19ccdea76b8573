"""Per-tenant Invoice Setup (seed 003's Invoice Setup screen) and the calendar it draws.

Each agency sets its own time zone, Week Ending Day, Invoice Delay, Preferred Start Time and
the billing cycles it uses. A tenant's calendar is, per cycle, a list of segments: from a
period start on, one setup governs. A change (`apply_setup`) takes effect from the next
unopened window, i.e. the first period that had not started (in the zone then in force) when
the change was made, and never before a closed window's period end: a window already opened
or closed keeps the period and run time it had. When the Week Ending Day changes, the first
period under the new setup is a short (or long) transition period from the cut to the new
week ending day. Semi-monthly and monthly period ends never depend on the setup (only their
run times do), so periods.py's week splitting is the same for every tenant.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from backoffice.errors import DomainError
from backoffice.schedules import WEEKDAYS, BatchSchedule, BatchWindow
from backoffice.model import BillingCycle

MAX_DELAY_DAYS = 27           # a delay past the next period's end would run windows out of order
_FIRST = dt.date.min


class InvalidInvoiceSetup(DomainError):
    code = "INVALID_INVOICE_SETUP"


@dataclass(frozen=True, slots=True)
class InvoiceSetup:
    time_zone: str = "UTC"
    week_ending_day: str = "SUNDAY"
    invoice_delay_days: int = 2
    preferred_start_time: dt.time = dt.time(13, 0)
    cycles: tuple[BillingCycle, ...] = tuple(BillingCycle)

    def schedule(self, cycle: BillingCycle) -> BatchSchedule:
        return BatchSchedule(cycle, self.time_zone, self.week_ending_day, self.invoice_delay_days,
                             self.preferred_start_time)

    def describe(self) -> str:
        return (f"{self.time_zone}, week ending {self.week_ending_day}, delay {self.invoice_delay_days} day(s), "
                f"start {self.preferred_start_time:%H:%M}, cycles {','.join(c.value for c in self.cycles)}")


def parse_setup(time_zone: str, week_ending_day: str, invoice_delay_days: int, preferred_start_time: str,
                cycles: Iterable[str]) -> InvoiceSetup:
    """An InvoiceSetup from an operator's values, or InvalidInvoiceSetup naming what is wrong."""
    try:
        if not time_zone or time_zone != time_zone.strip():
            raise ValueError
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInvoiceSetup(f"time zone {time_zone!r} is not an IANA zone (e.g. America/New_York)") from None
    day = (week_ending_day or "").upper()
    if day not in WEEKDAYS:
        raise InvalidInvoiceSetup(f"week ending day {week_ending_day!r} is not one of {', '.join(WEEKDAYS)}")
    if not isinstance(invoice_delay_days, int) or isinstance(invoice_delay_days, bool) \
            or not 0 <= invoice_delay_days <= MAX_DELAY_DAYS:
        raise InvalidInvoiceSetup(f"invoice delay {invoice_delay_days!r} must be 0-{MAX_DELAY_DAYS} days")
    start = _hh_mm(preferred_start_time)
    if start is None:
        raise InvalidInvoiceSetup(f"preferred start time {preferred_start_time!r} is not HH:MM (00:00-23:59)")
    names = [c.upper() for c in cycles]
    unknown = [c for c in names if c not in BillingCycle.__members__]
    if unknown or not names:
        raise InvalidInvoiceSetup(f"cycles {list(cycles)!r}: give one or more of "
                                  f"{', '.join(BillingCycle.__members__)}")
    chosen = tuple(c for c in BillingCycle if c.value in names)
    return InvoiceSetup(time_zone, day, invoice_delay_days, start, chosen)


def _hh_mm(text: str | None) -> dt.time | None:
    """'09:30' -> 09:30; anything else (9:30, 24:00, 09:30:00) -> None."""
    if not isinstance(text, str) or len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isascii() \
            or not (text[:2] + text[3:]).isdigit():
        return None
    hour, minute = int(text[:2]), int(text[3:])
    return dt.time(hour, minute) if hour < 24 and minute < 60 else None


@dataclass(frozen=True, slots=True)
class TenantCalendar:
    """Per cycle, (first period day, setup) segments in order; the first starts at date.min."""

    segments: dict[BillingCycle, tuple[tuple[dt.date, InvoiceSetup], ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, setup: InvoiceSetup) -> TenantCalendar:
        return cls({c: ((_FIRST, setup),) for c in BillingCycle})

    def _segments(self, cycle: BillingCycle) -> tuple[tuple[dt.date, InvoiceSetup], ...]:
        return self.segments.get(cycle) or ((_FIRST, InvoiceSetup()),)

    def setup_for(self, cycle: BillingCycle, period_end: dt.date) -> tuple[dt.date, InvoiceSetup]:
        """The segment governing the period that ends on `period_end`."""
        return [s for s in self._segments(cycle) if s[0] <= period_end][-1]

    def current(self) -> InvoiceSetup:
        """The newest setup (what the tenant last asked for)."""
        return max((segs[-1] for segs in self.segments.values()), key=lambda s: s[0], default=(_FIRST, InvoiceSetup()))[1]

    def window_ending(self, cycle: BillingCycle, period_end: dt.date) -> BatchWindow:
        start, setup = self.setup_for(cycle, period_end)
        window = setup.schedule(cycle).window_ending(period_end)
        return replace(window, period_start=max(window.period_start, start))

    def in_use(self, cycle: BillingCycle, period_end: dt.date) -> bool:
        return cycle in self.setup_for(cycle, period_end)[1].cycles

    def _windows_from(self, cycle: BillingCycle, day: dt.date) -> Iterator[BatchWindow]:
        """Every window of the cycle whose period ends on or after `day`, in period order."""
        segs = self._segments(cycle)
        for index, (start, setup) in enumerate(segs):
            stop = segs[index + 1][0] if index + 1 < len(segs) else dt.date.max
            schedule = setup.schedule(cycle)
            end = schedule.period_end_on_or_after(max(day, start))
            while end < stop:
                window = schedule.window_ending(end)
                yield replace(window, period_start=max(window.period_start, start))
                if end >= dt.date.max - dt.timedelta(days=40):
                    return
                end = schedule.period_end_on_or_after(end + dt.timedelta(days=1))

    def windows_between(self, cycle: BillingCycle, start: dt.datetime, end: dt.datetime) -> list[BatchWindow]:
        """The cycle's windows in use whose run time falls in (start, end], oldest run first."""
        out = []
        first = start.astimezone(dt.timezone.utc).date() - dt.timedelta(days=MAX_DELAY_DAYS + 40)
        for window in self._windows_from(cycle, first):
            if window.period_end > end.astimezone(dt.timezone.utc).date() + dt.timedelta(days=2):
                break                                   # its run is after its period end: later than `end`
            if start < window.run_at <= end and self.in_use(cycle, window.period_end):
                out.append(window)
        return sorted(out, key=lambda w: w.run_at)

    def next_window(self, cycle: BillingCycle, after: dt.datetime) -> BatchWindow | None:
        """The cycle's next window in use that runs after `after` (None if the cycle is not in use)."""
        first = after.astimezone(dt.timezone.utc).date() - dt.timedelta(days=MAX_DELAY_DAYS + 40)
        for window in self._windows_from(cycle, first):
            if window.run_at > after and self.in_use(cycle, window.period_end):
                return window
            if window.period_end > after.date() + dt.timedelta(days=120):
                return None
        return None


def _opened(window: BatchWindow, at: dt.datetime) -> bool:
    """Whether the window's period has begun at `at` (local midnight of its first day, its own zone)."""
    zone = window.run_at.tzinfo
    return dt.datetime.combine(window.period_start, dt.time(0), tzinfo=zone) <= at


def apply_setup(calendar: TenantCalendar, setup: InvoiceSetup, at: dt.datetime,
                closed: Iterable[str] = ()) -> tuple[TenantCalendar, dict[BillingCycle, dt.date]]:
    """The calendar with `setup` in force from each cycle's next unopened window; and, per
    cycle, the first period day the new setup governs. Windows opened before `at`, and every
    closed window ("CYCLE:YYYY-MM-DD" keys), keep the setup they had."""
    last_closed: dict[BillingCycle, dt.date] = {}
    for key in closed:
        name, _, end = key.partition(":")
        if name in BillingCycle.__members__:
            day = dt.date.fromisoformat(end)
            last_closed[BillingCycle(name)] = max(last_closed.get(BillingCycle(name), day), day)
    segments, cuts = {}, {}
    for cycle in BillingCycle:
        first = at.astimezone(dt.timezone.utc).date() - dt.timedelta(days=40)
        cut = next(w.period_start for w in calendar._windows_from(cycle, first) if not _opened(w, at))
        if cycle in last_closed:
            cut = max(cut, last_closed[cycle] + dt.timedelta(days=1))
        kept = tuple(s for s in calendar._segments(cycle) if s[0] < cut)
        segments[cycle] = kept + ((cut, setup),)
        cuts[cycle] = cut
    return TenantCalendar(segments), cuts

