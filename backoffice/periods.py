"""Where a timesheet week meets a billing period end (issue 11, part 8).

An account billed semi-monthly or monthly invoices exactly the days inside each
period, so a week that straddles a period end is cut by day at the boundary:
each part is billed in its own period's window. A weekly account's week is one
period, and so is a week that lies inside one semi-monthly or monthly period:
those stay whole (`WeekPart.period_end` None), with the ids and figures they
always had. The period ends come from the batch schedules, so a part falls in
exactly the window that covers it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from backoffice.model import BillingCycle
from backoffice.schedules import BatchSchedule

_WEEK = 7


@dataclass(frozen=True, slots=True)
class WeekPart:
    """The days of one week inside one billing period.

    `period_end` names the period (and the part's id suffix); None when the week is not split.
    `last_day` is the part's work date: the window that covers it invoices the part.
    """

    period_end: dt.date | None
    first_day: dt.date
    last_day: dt.date

    @property
    def split(self) -> bool:
        return self.period_end is not None

    def days_text(self) -> str:
        return f"{self.first_day:%m/%d/%Y} - {self.last_day:%m/%d/%Y}"


def period_end_of(cycle: BillingCycle, day: dt.date) -> dt.date | None:
    """The end of the semi-monthly or monthly period holding `day`; None for weekly accounts (never split)."""
    if cycle is BillingCycle.WEEKLY:
        return None
    return BatchSchedule(cycle).period_end_on_or_after(day)


def week_parts(cycle: BillingCycle, week_ending: dt.date, work_dates: Iterable[dt.date] = ()
               ) -> dict[dt.date, WeekPart]:
    """Each day of the week (and any other work date given) -> the part it belongs to.

    One unsplit part when every day lies in one period (or the cycle is weekly);
    otherwise one part per period, each spanning the week's days inside that period.
    """
    days = {week_ending - dt.timedelta(days=n) for n in range(_WEEK)} | set(work_dates)
    ends = {} if cycle is BillingCycle.WEEKLY else {day: period_end_of(cycle, day) for day in days}
    if len(set(ends.values())) <= 1:
        whole = WeekPart(None, min(days), max(max(days), week_ending))
        return {day: whole for day in days}
    by_period: dict[dt.date, list[dt.date]] = {}
    for day, end in ends.items():
        by_period.setdefault(end, []).append(day)
    parts = {end: WeekPart(end, min(group), max(group)) for end, group in by_period.items()}
    return {day: parts[end] for day, end in ends.items()}


def days_billed(work_start: dt.date | None, work_date: dt.date) -> tuple[dt.date, dt.date]:
    """The first and last day a timesheet line bills. A line stored before work_start existed
    billed its whole week, which ends on its work date."""
    return (work_start or work_date - dt.timedelta(days=_WEEK - 1), work_date)
