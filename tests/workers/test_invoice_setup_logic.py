"""SET_INVOICE_SETUP in the workers' pure logic (issue 16, part 5): the command's values over the
tenant's current setup, refusals naming the bad value, CLOSE_WINDOW and the scheduler on each
tenant's own calendar, and tenant state written before the calendar existed."""
from __future__ import annotations

import datetime as dt

import pytest

from backoffice.invoice_setup import InvoiceSetup, TenantCalendar, apply_setup
from backoffice.model import BillingCycle
from backoffice.numbering import TenantSequence
from cli.operator import command_record
from infra.settings import load_settings
from workers.command_logic import CommandRefused, calendar_for, default_setup, invoice_setup, window_request
from workers.scheduler_logic import due_windows, retries_due
from workers.window_logic import BlockedWindow, TenantState, keep_calendar, new_tenant

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 4, 12, tzinfo=UTC)


def test_the_deployment_settings_are_the_default_setup():
    settings = load_settings(timezone="Europe/London", week_ending_day="FRIDAY", invoice_delay_days=3,
                             preferred_start_time="07:15")
    assert calendar_for(None, settings).current() == InvoiceSetup("Europe/London", "FRIDAY", 3, dt.time(7, 15))
    assert calendar_for(new_tenant("t1"), settings).current() == default_setup(settings)


def test_fields_left_out_keep_the_current_setup():
    current = InvoiceSetup("Europe/London", "FRIDAY", 3, dt.time(7, 15), (BillingCycle.WEEKLY,))
    got = invoice_setup(command_record("t1", "SET_INVOICE_SETUP", time_zone="America/New_York"), current)
    assert got == InvoiceSetup("America/New_York", "FRIDAY", 3, dt.time(7, 15), (BillingCycle.WEEKLY,))


@pytest.mark.parametrize("fields,named", [
    ({"time_zone": "Atlantis/Capital"}, "Atlantis/Capital"), ({"week_ending_day": "SOMEDAY"}, "SOMEDAY"),
    ({"invoice_delay_days": 99}, "99"), ({"preferred_start_time": "25:61"}, "25:61"),
    ({"cycles": ["DAILY"]}, "DAILY"), ({}, "at least one")])
def test_a_bad_setup_is_a_refusal_naming_the_value(fields, named):
    with pytest.raises(CommandRefused, match=named):
        invoice_setup(command_record("t1", "SET_INVOICE_SETUP", **fields), InvoiceSetup())


def test_close_window_cuts_the_period_on_the_tenants_calendar():
    settings = load_settings()
    calendar, _ = apply_setup(TenantCalendar.of(default_setup(settings)), InvoiceSetup("UTC", "WEDNESDAY"), NOW)
    cmd = command_record("t1", "CLOSE_WINDOW", window_id="WEEKLY:2026-11-11")
    mine = window_request(cmd, settings, NOW, 0, calendar)
    theirs = window_request(cmd, settings, NOW, 0)
    assert (mine.period_start, mine.period_end) == (dt.date(2026, 11, 9), dt.date(2026, 11, 11))     # transition
    assert theirs.period_start == dt.date(2026, 11, 5)                                               # default: 7 days


def test_the_scheduler_fires_each_tenant_on_its_own_calendar():
    settings = load_settings()          # UTC, Sunday, 2 days, 13:00
    tokyo = TenantCalendar.of(InvoiceSetup("Asia/Tokyo", "FRIDAY", 0, dt.time(6), (BillingCycle.WEEKLY,)))
    due = due_windows(["tokyo", "plain"], settings, dt.datetime(2026, 11, 5, tzinfo=UTC),
                      dt.datetime(2026, 11, 11, tzinfo=UTC), {"tokyo": tokyo})
    got = [(d.tenant_id, d.window.window_id, d.window.run_at.astimezone(UTC).isoformat()) for d in due]
    # Friday 06:00 in Tokyo is Thursday 21:00 UTC; the default tenant runs Tuesday 13:00 UTC
    assert got == [("tokyo", "WEEKLY:2026-11-06", "2026-11-05T21:00:00+00:00"),
                   ("plain", "WEEKLY:2026-11-08", "2026-11-10T13:00:00+00:00")]


def test_a_blocked_window_is_retried_with_the_period_of_its_own_calendar():
    calendar, _ = apply_setup(TenantCalendar.of(InvoiceSetup()), InvoiceSetup("UTC", "WEDNESDAY"), NOW)
    blocked = BlockedWindow("WEEKLY:2026-11-11", "NO_BILLTO x1", 1, NOW, NOW, 1, "close:t1:WEEKLY:2026-11-11")
    state = TenantState("t1", TenantSequence("t1"), blocked=(blocked,), calendar=calendar)
    (retry,) = retries_due(state, load_settings())
    assert retry.window.period_start == dt.date(2026, 11, 9)


def test_the_assembler_keeps_a_calendar_stored_while_it_awaited():
    read_before = new_tenant("t1")
    calendar = TenantCalendar.of(InvoiceSetup("Europe/London"))
    fresh = TenantState("t1", TenantSequence("t1"), calendar=calendar)
    assert keep_calendar(read_before, fresh).calendar is calendar
    assert keep_calendar(read_before, None) is read_before
