"""Per-tenant Invoice Setup (issue 16, part 5): validation, each tenant's own calendar across a
DST change, and the rule that a change applies from the next unopened window and never re-cuts
an opened or closed one. Expectations are computed here from zoneinfo and the calendar directly,
not from backoffice.schedules."""
from __future__ import annotations

import datetime as dt
from itertools import takewhile
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from backoffice.invoice_setup import InvalidInvoiceSetup, InvoiceSetup, TenantCalendar, apply_setup, parse_setup
from backoffice.model import BillingCycle

UTC = dt.timezone.utc
DAYS = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
W, S, M = BillingCycle.WEEKLY, BillingCycle.SEMI_MONTHLY, BillingCycle.MONTHLY


# -- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("values,named", [
    (dict(time_zone="Mars/Olympus_Mons"), "Mars/Olympus_Mons"),
    (dict(time_zone=""), "time zone"),
    (dict(time_zone="../../etc/passwd"), "time zone"),
    (dict(week_ending_day="FUNDAY"), "FUNDAY"),
    (dict(invoice_delay_days=-1), "-1"),
    (dict(invoice_delay_days=28), "28"),
    (dict(preferred_start_time="24:00"), "24:00"),
    (dict(preferred_start_time="9am"), "9am"),
    (dict(cycles=["FORTNIGHTLY"]), "FORTNIGHTLY"),
    (dict(cycles=[]), "cycles"),
])
def test_a_bad_value_is_refused_with_a_reason_naming_it(values, named):
    good = dict(time_zone="Europe/London", week_ending_day="SUNDAY", invoice_delay_days=2,
                preferred_start_time="13:00", cycles=["WEEKLY"])
    with pytest.raises(InvalidInvoiceSetup) as refused:
        parse_setup(**{**good, **values})
    assert named in refused.value.reason and refused.value.code == "INVALID_INVOICE_SETUP"


def test_good_values_parse():
    setup = parse_setup("America/New_York", "saturday", 0, "09:30", ["monthly", "WEEKLY"])
    assert setup == InvoiceSetup("America/New_York", "SATURDAY", 0, dt.time(9, 30), (W, M))


# -- two tenants, two calendars, one across a DST change ----------------------------------------

def expected_weekly(zone: str, week_ending: str, delay: int, at: dt.time, first: dt.date, last: dt.date):
    """By hand: every week ending day in [first, last] -> its run instant (local wall clock -> UTC)."""
    out = {}
    day = first
    while day <= last:
        if DAYS[day.weekday()] == week_ending:
            local = dt.datetime.combine(day + dt.timedelta(days=delay), at, tzinfo=ZoneInfo(zone))
            out[f"WEEKLY:{day}"] = local.astimezone(UTC)
        day += dt.timedelta(days=1)
    return out


def expected_monthly(zone: str, delay: int, months: list[tuple[int, int]]):
    out = {}
    for year, month in months:
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        out[f"MONTHLY:{end}"] = dt.datetime.combine(nxt + dt.timedelta(days=delay), dt.time(0),
                                                    tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return out


NEW_YORK = InvoiceSetup("America/New_York", "SATURDAY", 1, dt.time(9, 30), (W,))
LONDON = InvoiceSetup("Europe/London", "SUNDAY", 2, dt.time(13, 0), (W, M))


def test_two_tenants_close_on_their_own_calendars_across_dst():
    """New York falls back on 2026-11-01 and London on 2026-10-25: the same local start time is a
    different UTC hour before and after, each on its own tenant's calendar only."""
    calendars = {"ny": TenantCalendar.of(NEW_YORK), "ldn": TenantCalendar.of(LONDON)}
    start, end = dt.datetime(2026, 10, 10, tzinfo=UTC), dt.datetime(2026, 11, 20, tzinfo=UTC)
    got = {t: {w.window_id: w.run_at.astimezone(UTC) for c in BillingCycle for w in cal.windows_between(c, start, end)}
           for t, cal in calendars.items()}
    want_ny = {k: v for k, v in expected_weekly("America/New_York", "SATURDAY", 1, dt.time(9, 30),
                                                dt.date(2026, 10, 1), dt.date(2026, 11, 30)).items() if start < v <= end}
    want_ldn = {k: v for k, v in {**expected_weekly("Europe/London", "SUNDAY", 2, dt.time(13), dt.date(2026, 10, 1),
                                                    dt.date(2026, 11, 30)),
                                  **expected_monthly("Europe/London", 2, [(2026, 9), (2026, 10), (2026, 11)])}.items()
                if start < v <= end}
    assert got == {"ny": want_ny, "ldn": want_ldn}
    # the DST change itself, spelled out: Sunday 09:30 in New York is 13:30 UTC before, 14:30 after
    assert got["ny"]["WEEKLY:2026-10-24"] == dt.datetime(2026, 10, 25, 13, 30, tzinfo=UTC)
    assert got["ny"]["WEEKLY:2026-10-31"] == dt.datetime(2026, 11, 1, 14, 30, tzinfo=UTC)
    # Tuesday 13:00 in London is 12:00 UTC in summer time, 13:00 after 2026-10-25
    assert got["ldn"]["WEEKLY:2026-10-18"] == dt.datetime(2026, 10, 20, 12, tzinfo=UTC)
    assert got["ldn"]["WEEKLY:2026-10-25"] == dt.datetime(2026, 10, 27, 13, tzinfo=UTC)
    assert got["ldn"]["MONTHLY:2026-10-31"] == dt.datetime(2026, 11, 3, 0, tzinfo=UTC)
    assert not any(k.startswith("MONTHLY") for k in got["ny"])           # not a cycle New York uses


# -- a change applies from the next unopened window ---------------------------------------------

def test_changing_the_week_ending_day_mid_week_keeps_the_open_week_and_cuts_a_transition_period():
    old = TenantCalendar.of(InvoiceSetup("UTC", "SUNDAY", 2, dt.time(13)))
    at = dt.datetime(2026, 11, 4, 12, tzinfo=UTC)                        # Wednesday: week 11-02..11-08 is open
    new, cuts = apply_setup(old, InvoiceSetup("UTC", "WEDNESDAY", 1, dt.time(8)), at)
    assert cuts[W] == dt.date(2026, 11, 9)
    got = [(str(w.period_start), str(w.period_end), w.run_at.astimezone(UTC).isoformat())
           for w in new.windows_between(W, at, dt.datetime(2026, 11, 30, tzinfo=UTC))]
    assert got == [("2026-11-02", "2026-11-08", "2026-11-10T13:00:00+00:00"),     # opened: as it was
                   ("2026-11-09", "2026-11-11", "2026-11-12T08:00:00+00:00"),     # transition: Mon..Wed
                   ("2026-11-12", "2026-11-18", "2026-11-19T08:00:00+00:00"),
                   ("2026-11-19", "2026-11-25", "2026-11-26T08:00:00+00:00")]
    # the month is open on 11-04 too: the new delay applies from December's window
    assert new.window_ending(M, dt.date(2026, 11, 30)).run_at.astimezone(UTC) == dt.datetime(2026, 12, 3, tzinfo=UTC)
    assert new.window_ending(M, dt.date(2026, 12, 31)).run_at.astimezone(UTC) == dt.datetime(2027, 1, 2, tzinfo=UTC)


def test_a_closed_window_ahead_of_the_calendar_is_never_recut():
    old = TenantCalendar.of(InvoiceSetup("UTC", "SUNDAY", 2, dt.time(13)))
    at = dt.datetime(2026, 11, 4, 12, tzinfo=UTC)
    before = old.window_ending(W, dt.date(2026, 11, 15))
    new, cuts = apply_setup(old, InvoiceSetup("Asia/Tokyo", "FRIDAY", 0, dt.time(6)), at,
                            closed={"WEEKLY:2026-11-15", "cmd:whatever"})
    assert cuts[W] == dt.date(2026, 11, 16)
    assert new.window_ending(W, dt.date(2026, 11, 15)) == before


ZONES = ["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Kiritimati"]
setups = st.builds(InvoiceSetup, st.sampled_from(ZONES), st.sampled_from(DAYS), st.integers(0, 27),
                   st.times().map(lambda t: t.replace(second=0, microsecond=0)),
                   st.sets(st.sampled_from(list(BillingCycle)), min_size=1).map(lambda s: tuple(c for c in BillingCycle if c in s)))
instants = st.datetimes(dt.datetime(2026, 1, 1), dt.datetime(2027, 12, 31), timezones=st.just(UTC))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=setups, changes=st.lists(st.tuples(setups, st.integers(0, 60 * 24 * 90)), min_size=1, max_size=3),
       at=instants, closed_ahead=st.integers(-3, 3))
def test_a_change_never_recuts_an_opened_or_closed_window_and_leaves_no_gap(first, changes, at, closed_ahead):
    calendar = TenantCalendar.of(first)
    for setup, minutes in changes:
        at = at + dt.timedelta(minutes=minutes)
        horizon = at + dt.timedelta(days=200)
        before = {c: calendar.windows_between(c, at - dt.timedelta(days=120), horizon) for c in BillingCycle}
        # a closed window: one already run, or (closed_ahead > 0) an operator's close of a window still ahead
        closed = set()
        for c in BillingCycle:
            opened = list(takewhile(lambda w: w.period_end <= at.date() + dt.timedelta(days=60),
                                    calendar._windows_from(c, at.date() - dt.timedelta(days=60))))
            pick = opened[min(len(opened) - 1, max(0, [w.run_at <= at for w in opened].count(True) - 1 + closed_ahead))]
            closed.add(pick.window_id)
        new, cuts = apply_setup(calendar, setup, at, closed)
        for c in BillingCycle:
            cut = cuts[c]
            for w in before[c]:
                local_start = dt.datetime.combine(w.period_start, dt.time(0), tzinfo=w.run_at.tzinfo)
                if local_start <= at or w.window_id in closed:      # opened or closed: exactly as it was
                    assert new.window_ending(c, w.period_end) == w, (c, w, at)
                    assert w.period_end < cut
            after = list(takewhile(lambda w: w.period_end < cut + dt.timedelta(days=120), new._windows_from(c, cut)))
            assert after[0].period_start == cut
            for prev, nxt in zip(after, after[1:]):                   # contiguous: no day twice, none missed
                assert nxt.period_start == prev.period_end + dt.timedelta(days=1)
            for w in after:                                          # everything from the cut is the new setup's
                assert w.run_at.tzinfo == ZoneInfo(setup.time_zone)
                assert new.in_use(c, w.period_end) == (c in setup.cycles)
                if c is W:
                    assert DAYS[w.period_end.weekday()] == setup.week_ending_day
                    assert w.run_at.date() >= w.period_end + dt.timedelta(days=setup.invoice_delay_days)
        calendar = new
