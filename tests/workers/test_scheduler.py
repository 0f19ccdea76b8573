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


# --- blocked windows come back ------------------------------------------------------------

from backoffice import ledger as L  # noqa: E402
from backoffice.billto import BilltoHierarchy  # noqa: E402
from backoffice.numbering import TenantSequence  # noqa: E402
from tests.domain.factories import WEEK_END, hierarchy, placement, timesheet  # noqa: E402
from workers.command_logic import window_request  # noqa: E402
from workers.ledger_logic import LedgerRecord, collect  # noqa: E402
from workers.messages import LinesChunk  # noqa: E402
from workers.scheduler_logic import retries_due  # noqa: E402
from workers.window_logic import (  # noqa: E402
    BlockedWindow, TenantState, WindowState, new_tenant, starts_new_attempt, tenant_after_generation,
    tenant_after_refusal, try_generate,
)

WINDOW = f"WEEKLY:{WEEK_END.isoformat()}"
T0 = dt.datetime(2026, 11, 24, 19, tzinfo=UTC)


def _close(command_id: str, now: dt.datetime):
    """The command agent's request for a scheduler close with this id (what the assembler gets)."""
    cmd = {"tenant_id": "t1", "command_id": command_id, "command": "CLOSE_WINDOW", "window_id": WINDOW}
    return window_request(cmd, load_settings(), now)


def _run(request, tenant: TenantState, billto: BilltoHierarchy, now: dt.datetime):
    """One attempt of the window, as the assembler runs it: collect, generate, book the tenant."""
    led = L.apply_placement(L.empty_ledger("t1", "p1"), placement("p1")).ledger
    led = L.apply_timesheet(led, timesheet("ts1", "p1"), WEEK_END).ledger
    _, due = collect(LedgerRecord(led), request)
    result = try_generate(request, [LinesChunk(request, 0, 0, tuple(due), (led.placement,))], billto, tenant)
    return result, tenant_after_generation(tenant, request, result, now), WindowState(request, done=True,
                                                                                     blocked=result.blocked)


def test_a_blocked_window_is_sent_again_each_look_with_one_id_per_attempt_until_it_passes():
    settings = load_settings()
    no_billto = BilltoHierarchy([])                        # the placement's account never arrived: NO_BILLTO
    first = _close(f"close:t1:{WINDOW}", T0)
    result, tenant, state = _run(first, new_tenant("t1"), no_billto, T0)
    assert result.blocked and [f.code for f in result.report.errors] == ["NO_BILLTO"] * len(result.report.errors)
    assert WINDOW not in tenant.closed                     # the command agent would refuse a closed one
    blocked = tenant.blocked_window(WINDOW)
    assert (blocked.since, blocked.last_attempt, blocked.attempts) == (T0, T0, 1)
    assert blocked.reason.startswith("NO_BILLTO x1: pay line t1:p1|") and blocked.errors == 1
    # every look until the retry has run sends the same id: the command agent carries it out once
    looks = [[d.command_id for d in retries_due(tenant, settings)] for _ in range(3)]
    assert looks == [[f"close:t1:{WINDOW}:retry1"]] * 3
    assert retries_due(tenant, settings)[0].window.window_id == WINDOW
    # the assembler takes the retry as a new attempt, a replay of the first close as a replay
    retry1 = _close(looks[0][0], T0 + dt.timedelta(minutes=1))
    assert starts_new_attempt(state, tenant, retry1)
    assert not starts_new_attempt(state, tenant, first)
    # still blocked: since stays, attempts and last attempt move, the next look has a new id
    t1 = T0 + dt.timedelta(minutes=1)
    _, tenant, state = _run(retry1, tenant, no_billto, t1)
    blocked = tenant.blocked_window(WINDOW)
    assert (blocked.since, blocked.last_attempt, blocked.attempts) == (T0, t1, 2)
    assert [d.command_id for d in retries_due(tenant, settings)] == [f"close:t1:{WINDOW}:retry2"]
    assert not starts_new_attempt(state, tenant, retry1) and not starts_new_attempt(state, tenant, first)
    # the account arrives: the next retry generates, the window is closed and leaves the list
    retry2 = _close(f"close:t1:{WINDOW}:retry2", T0 + dt.timedelta(minutes=2))
    assert starts_new_attempt(state, tenant, retry2)
    result, tenant, state = _run(retry2, tenant, hierarchy(), T0 + dt.timedelta(minutes=2))
    assert not result.blocked and [i.number for i in result.invoices] == ["1"]
    assert WINDOW in tenant.closed and tenant.blocked == () and tenant.sequence.last_number == 1
    assert tenant.batch_ids == (result.batch.batch_id,)
    assert retries_due(tenant, settings) == []
    # a generated window is never cut again, whatever id asks
    operator = _close("cli-7", T0 + dt.timedelta(minutes=3))
    assert not starts_new_attempt(state, tenant, operator) and not starts_new_attempt(state, tenant, retry2)


def test_an_operators_close_of_a_blocked_window_is_a_new_attempt():
    _, tenant, state = _run(_close(f"close:t1:{WINDOW}", T0), new_tenant("t1"), BilltoHierarchy([]), T0)
    assert starts_new_attempt(state, tenant, _close("cli-1", T0))


def test_only_scheduled_windows_come_back_and_a_refusal_closes():
    on_demand = window_request({"tenant_id": "t1", "command_id": "g1", "command": "GENERATE"}, load_settings(), T0)
    result, tenant, state = _run(on_demand, new_tenant("t1"), BilltoHierarchy([]), T0)
    assert result.blocked and tenant.blocked == () and on_demand.window_key in tenant.closed
    assert retries_due(tenant, load_settings()) == []
    assert not starts_new_attempt(state, tenant, on_demand)
    _, blocked_tenant, _ = _run(_close(f"close:t1:{WINDOW}", T0), new_tenant("t1"), BilltoHierarchy([]), T0)
    refused = tenant_after_refusal(blocked_tenant, _close(f"close:t1:{WINDOW}:retry1", T0))
    assert refused.blocked == () and WINDOW in refused.closed


def test_retries_go_oldest_first_and_skip_what_is_not_a_scheduled_window():
    settings = load_settings()
    rec = lambda key, n: BlockedWindow(key, "NO_BILLTO x1: ...", 1, T0, T0, n, "c")  # noqa: E731
    tenant = TenantState("t1", TenantSequence("t1"), blocked=(
        rec("MONTHLY:2026-11-30", 1), rec("WEEKLY:2026-11-15", 3), rec("cmd:g1", 1), rec("WEEKLY:2026-11-22", 1)))
    due = retries_due(tenant, settings)
    assert [d.command_id for d in due] == ["close:t1:WEEKLY:2026-11-15:retry3", "close:t1:WEEKLY:2026-11-22:retry1",
                                           "close:t1:MONTHLY:2026-11-30:retry1"]
    assert [d.window.run_at for d in due] == sorted(d.window.run_at for d in due)
    assert retries_due(None, settings) == []


def test_a_blocked_windows_retry_passes_once_the_offending_line_is_snoozed():
    """p2 lost its OT bill rate after the timesheet (placement version 2): its OT line blocks the
    window. The operator snoozes that line; the next retry no longer collects it and generates the rest."""
    from decimal import Decimal

    from backoffice.model import PayCode

    settings = load_settings()
    p1 = L.apply_timesheet(L.apply_placement(L.empty_ledger("t1", "p1"), placement("p1")).ledger,
                           timesheet("ts1", "p1"), WEEK_END).ledger
    p2 = L.apply_placement(L.empty_ledger("t1", "p2"), placement("p2")).ledger
    p2 = L.apply_timesheet(p2, timesheet("ts2", "p2", ot="4"), WEEK_END).ledger
    p2 = L.apply_placement(p2, placement("p2", version=2, rates=((PayCode.REG, Decimal("40.00")),))).ledger

    def attempt(request, tenant, ledgers):
        chunks = []
        for i, led in enumerate(ledgers):
            _, due = collect(LedgerRecord(led), request)
            chunks.append(LinesChunk(request, i, 0, tuple(due), (led.placement,)))
        result = try_generate(request, chunks, hierarchy(), tenant)
        return result, tenant_after_generation(tenant, request, result, T0)

    result, tenant = attempt(_close(f"close:t1:{WINDOW}", T0), new_tenant("t1"), [p1, p2])
    assert result.blocked and {f.code for f in result.report.errors} == {"MISSING_BILL_RATE"}
    (offending,) = result.report.blocked_line_ids()
    (retry,) = retries_due(tenant, settings)
    p2 = L.snooze(p2, offending).ledger
    result, tenant = attempt(_close(retry.command_id, T0), tenant, [p1, p2])
    assert not result.blocked and WINDOW in tenant.closed and tenant.blocked == ()
    invoiced = {line.pay_line_id for inv in result.invoices for line in inv.lines}
    assert offending not in invoiced and invoiced == {x for x in p1.lines} | (set(p2.lines) - {offending})
