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


def _fired_by_a_ticking_scheduler(schedule, start, end, step=dt.timedelta(minutes=10)):
    """Window ids a scheduler scanning (last tick, now] every `step` would close, in order."""
    fired, tick = [], start
    while tick < end:
        fired += [w.window_id for w in schedule.windows_between(tick, tick + step)]
        tick += step
    return fired


@pytest.mark.parametrize("cycle,period_end,delay", [
    (BillingCycle.SEMI_MONTHLY, dt.date(2026, 8, 31), 6),     # runs 2026-09-06 00:00
    (BillingCycle.MONTHLY, dt.date(2026, 8, 31), 5)])         # runs 2026-09-01 + 5 = 2026-09-06 00:00
def test_a_midnight_run_that_dst_skips_moves_to_0100_santiago(cycle, period_end, delay):
    # America/Santiago springs forward at 24:00: 2026-09-06 00:00 never happens (-04 -> -03 at 01:00)
    s = BatchSchedule(cycle, "America/Santiago", invoice_delay_days=delay)
    w = s.window_ending(period_end)
    assert w.run_at.astimezone(UTC) == dt.datetime(2026, 9, 6, 4, 0, tzinfo=UTC)
    assert (w.run_at.date(), w.run_at.hour, w.run_at.utcoffset()) == (dt.date(2026, 9, 6), 1, dt.timedelta(hours=-3))
    fired = _fired_by_a_ticking_scheduler(s, dt.datetime(2026, 9, 5, 12, tzinfo=UTC), dt.datetime(2026, 9, 6, 12, tzinfo=UTC))
    assert fired == [w.window_id]


@pytest.mark.parametrize("cycle,period_end,delay", [
    (BillingCycle.SEMI_MONTHLY, dt.date(2026, 10, 31), 1),    # runs 2026-11-01 00:00
    (BillingCycle.MONTHLY, dt.date(2026, 10, 31), 0)])        # runs 2026-11-01 00:00
def test_a_midnight_run_that_dst_repeats_fires_once_havana(cycle, period_end, delay):
    # America/Havana falls back at 01:00 -> 00:00 on 2026-11-01: local midnight happens twice
    s = BatchSchedule(cycle, "America/Havana", invoice_delay_days=delay)
    w = s.window_ending(period_end)
    assert w.run_at.astimezone(UTC) == dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC)       # the first midnight (-04)
    fired = _fired_by_a_ticking_scheduler(s, dt.datetime(2026, 10, 31, 12, tzinfo=UTC), dt.datetime(2026, 11, 1, 12, tzinfo=UTC))
    assert fired == [w.window_id]
    catch_up = s.windows_between(dt.datetime(2026, 10, 20, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC))
    assert [x.window_id for x in catch_up] == [w.window_id]


def test_havana_spring_forward_midnight_semi_monthly_run():
    # 2026-03-08 00:00 does not exist in Havana (-05 -> -04): the run for Feb 16-28 with delay 8 moves to 01:00
    s = BatchSchedule(BillingCycle.SEMI_MONTHLY, "America/Havana", invoice_delay_days=8)
    w = s.window_ending(dt.date(2026, 2, 28))
    assert (w.period_start, w.run_at.astimezone(UTC)) == (dt.date(2026, 2, 16), dt.datetime(2026, 3, 8, 5, tzinfo=UTC))
    assert w.run_at.hour == 1
