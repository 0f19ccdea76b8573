import datetime as dt

from infra.settings import load_settings
from workers.scheduler_logic import catch_up_since, due_windows, tenants_in

UTC = dt.timezone.utc


def test_windows_missed_while_down_are_all_due_once_in_order():
    settings = load_settings(timezone="America/Chicago")
    since = dt.datetime(2026, 10, 1, tzinfo=UTC)
    now = dt.datetime(2026, 11, 25, tzinfo=UTC)
    due = due_windows(["t2", "t1"], settings, since, now)
    weekly = [d for d in due if d.window.cycle.value == "WEEKLY" and d.tenant_id == "t1"]
    assert [d.window.window_id for d in weekly][:2] == ["WEEKLY:2026-10-04", "WEEKLY:2026-10-11"]   # 09-27 ran Sep 29
    assert weekly[-1].window.window_id == "WEEKLY:2026-11-22"          # Tue Nov 24 13:00 CST < now
    assert len({d.command_id for d in due}) == len(due)                # one command per tenant x window
    assert [d.window.run_at for d in due] == sorted(d.window.run_at for d in due)
    monthly = [d.window.window_id for d in due if d.window.cycle.value == "MONTHLY" and d.tenant_id == "t2"]
    assert monthly == ["MONTHLY:2026-09-30", "MONTHLY:2026-10-31"]


def test_consecutive_looks_never_repeat_a_window():
    settings = load_settings()
    t0 = dt.datetime(2026, 11, 1, tzinfo=UTC)
    looks = [t0 + dt.timedelta(hours=7 * i) for i in range(40)]
    seen = []
    for a, b in zip(looks, looks[1:]):
        seen += [d.command_id for d in due_windows(["t1"], settings, a, b)]
    assert len(seen) == len(set(seen)) > 0


def test_tenants_from_billto_keys():
    assert tenants_in([b"t1:co", b"t1:cl", b"t2:co"]) == {"t1", "t2"}


def test_a_long_outage_is_caught_up_from_each_cycles_last_closed_window():
    """Down for five months: the first look starts where the tenant's cycles last closed, so
    every window since is due once (the fixed look-back alone would skip the older ones)."""
    settings, catch_up = load_settings(), dt.timedelta(days=35)
    now = dt.datetime(2027, 4, 10, tzinfo=UTC)
    closed = {"WEEKLY:2026-11-01", "WEEKLY:2026-10-25", "SEMI_MONTHLY:2026-10-31", "MONTHLY:2026-10-31",
              "cmd:operator-1"}
    since = catch_up_since(closed, now, catch_up)
    assert since == dt.datetime(2026, 10, 31, tzinfo=UTC)
    due = {d.window.window_id for d in due_windows(["t1"], settings, since, now)} - closed
    monthly = sorted(w for w in due if w.startswith("MONTHLY"))
    assert monthly == ["MONTHLY:2026-11-30", "MONTHLY:2026-12-31", "MONTHLY:2027-01-31", "MONTHLY:2027-02-28",
                       "MONTHLY:2027-03-31"]
    assert min(w for w in due if w.startswith("WEEKLY")) == "WEEKLY:2026-11-08"
    # a tenant that never closed every cycle, or closed recently, looks back the fixed span
    assert catch_up_since({"WEEKLY:2026-11-01"}, now, catch_up) == now - catch_up
    recent = {"WEEKLY:2027-04-04", "SEMI_MONTHLY:2027-03-31", "MONTHLY:2027-03-31"}
    assert catch_up_since(recent, now, catch_up) == now - catch_up
