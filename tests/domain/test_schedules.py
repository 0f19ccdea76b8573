import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from backoffice.model import BillingCycle
from backoffice.schedules import BatchSchedule

CHI = ZoneInfo("America/Chicago")
UTC = dt.timezone.utc


def test_weekly_sunday_delay_2_runs_tuesday_1300_local_for_the_week_that_ended():
    s = BatchSchedule(BillingCycle.WEEKLY, "America/Chicago", "SUNDAY", 2, dt.time(13))
    w = s.next_window(dt.datetime(2026, 11, 23, 12, tzinfo=UTC))
    assert w.run_at == dt.datetime(2026, 11, 24, 13, 0, tzinfo=CHI)
    assert w.run_at.strftime("%A") == "Tuesday"
    assert (w.period_start, w.period_end) == (dt.date(2026, 11, 16), dt.date(2026, 11, 22))
    assert w.window_id == "WEEKLY:2026-11-22"


def test_semi_monthly_delay_2_runs_at_midnight_on_the_17th_and_the_2nd():
    s = BatchSchedule(BillingCycle.SEMI_MONTHLY, "America/Chicago", invoice_delay_days=2)
    ws = s.windows_between(dt.datetime(2026, 3, 1, tzinfo=CHI), dt.datetime(2026, 4, 30, tzinfo=CHI))
    assert [(w.period_start.isoformat(), w.period_end.isoformat(), w.run_at.date().isoformat(), w.run_at.hour)
            for w in ws] == [("2026-02-16", "2026-02-28", "2026-03-02", 0), ("2026-03-01", "2026-03-15", "2026-03-17", 0),
                             ("2026-03-16", "2026-03-31", "2026-04-02", 0), ("2026-04-01", "2026-04-15", "2026-04-17", 0)]


@pytest.mark.parametrize("year,month,last", [(2026, 2, 28), (2028, 2, 29), (2026, 4, 30), (2026, 12, 31)])
def test_month_ends_and_leap_years(year, month, last):
    s = BatchSchedule(BillingCycle.MONTHLY, "UTC", invoice_delay_days=2)
    w = s.window_ending(s.period_end_on_or_after(dt.date(year, month, 10)))
    assert (w.period_start, w.period_end) == (dt.date(year, month, 1), dt.date(year, month, last))
    next_month = dt.date(year + (month == 12), month % 12 + 1, 1)
    assert w.run_at == dt.datetime.combine(next_month + dt.timedelta(days=2), dt.time(0), tzinfo=ZoneInfo("UTC"))
    semi = BatchSchedule(BillingCycle.SEMI_MONTHLY, "UTC")
    assert semi.period_end_on_or_after(dt.date(year, month, 16)) == dt.date(year, month, last)


def test_dst_spring_forward_keeps_local_start_time():
    s = BatchSchedule(BillingCycle.WEEKLY, "America/Chicago", "SUNDAY", 2, dt.time(13))
    before = s.window_ending(dt.date(2026, 3, 1))    # runs Tue Mar 3 (CST, UTC-6)
    after = s.window_ending(dt.date(2026, 3, 8))     # DST starts Mar 8; runs Tue Mar 10 (CDT, UTC-5)
    assert before.run_at.astimezone(UTC).hour == 19 and after.run_at.astimezone(UTC).hour == 18
    assert before.run_at.hour == after.run_at.hour == 13


def test_a_start_time_skipped_by_dst_moves_forward():
    s = BatchSchedule(BillingCycle.WEEKLY, "America/Chicago", "FRIDAY", 2, dt.time(2, 30))
    w = s.window_ending(dt.date(2026, 3, 6))        # runs Sunday Mar 8 02:30, which does not exist
    assert w.run_at.astimezone(UTC) == dt.datetime(2026, 3, 8, 8, 30, tzinfo=UTC)    # 03:30 CDT


def test_fall_back_runs_once():
    s = BatchSchedule(BillingCycle.WEEKLY, "America/Chicago", "FRIDAY", 2, dt.time(1, 30))
    ws = s.windows_between(dt.datetime(2026, 10, 30, tzinfo=UTC), dt.datetime(2026, 11, 3, tzinfo=UTC))
    assert [w.window_id for w in ws] == ["WEEKLY:2026-10-30"]


def test_missed_windows_are_caught_up_not_skipped():
    s = BatchSchedule(BillingCycle.WEEKLY, "UTC")
    ws = s.windows_between(dt.datetime(2026, 10, 1, tzinfo=UTC), dt.datetime(2026, 11, 25, tzinfo=UTC))
    ends = [w.period_end for w in ws]
    assert ends == sorted(ends) and len(ends) == 8
    assert all((b - a).days == 7 for a, b in zip(ends, ends[1:]))


def test_a_window_knows_its_period():
    w = BatchSchedule(BillingCycle.WEEKLY, "UTC").window_ending(dt.date(2026, 11, 22))
    assert w.covers(dt.date(2026, 11, 22)) and not w.covers(dt.date(2026, 11, 23))
