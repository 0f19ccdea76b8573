"""The windows read of the ops API and the CLI's table of it (pure: tables in, JSON out)."""
import datetime as dt

from backoffice.model import BillingCycle
from backoffice.numbering import TenantSequence
from cli.windows import table
from infra.settings import load_settings
from ops.api.models import TenantWindows
from ops.api.reads import tenant_windows
from workers.command_logic import schedule_for
from workers.messages import WindowRequest
from workers.window_logic import BlockedWindow, TenantState, WindowState

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 9, tzinfo=UTC)
SINCE = dt.datetime(2026, 11, 17, 19, tzinfo=UTC)


def _request(key: str, cid: str, start: dt.date, end: dt.date, cycle: str | None = "WEEKLY") -> WindowRequest:
    return WindowRequest("t1", key, cid, cycle, start, end, end + dt.timedelta(days=2), on_demand=cycle is None)


def _answer():
    generated = WindowState(_request("WEEKLY:2026-11-08", "c1", dt.date(2026, 11, 2), dt.date(2026, 11, 8)),
                            done=True, invoice_count=3, batch_id="b-1")
    blocked = WindowState(_request("WEEKLY:2026-11-15", "c2", dt.date(2026, 11, 9), dt.date(2026, 11, 15)),
                          done=True, blocked=True)
    retrying = WindowState(_request("WEEKLY:2026-11-22", "c3:retry2", dt.date(2026, 11, 16), dt.date(2026, 11, 22)))
    refused = WindowState(_request("MONTHLY:2026-10-31", "c4", dt.date(2026, 10, 1), dt.date(2026, 10, 31),
                                   "MONTHLY"), done=True, blocked=True)
    on_demand = WindowState(_request("cmd:g1", "g1", dt.date(1970, 1, 1), dt.date(2026, 11, 20), None), done=True)
    state = TenantState("t1", TenantSequence("t1", 3), frozenset({"WEEKLY:2026-11-08", "MONTHLY:2026-10-31", "cmd:g1"}),
                        ("b-1",), (BlockedWindow("WEEKLY:2026-11-15", "NO_BILLTO x2: pay line t1:p2|...", 2, SINCE,
                                                 NOW, 9, "close:t1:WEEKLY:2026-11-15:retry8"),
                                   BlockedWindow("WEEKLY:2026-11-22", "MISSING_BILL_RATE x1: ...", 1, NOW, NOW, 2,
                                                 "close:t1:WEEKLY:2026-11-22:retry1")))
    settings = load_settings()
    upcoming = [schedule_for(c, settings).next_window(NOW) for c in BillingCycle]
    return tenant_windows("t1", state, [generated, blocked, retrying, refused, on_demand], upcoming, True)


def test_windows_say_which_are_blocked_why_and_since_when():
    answer = _answer()
    TenantWindows.model_validate(answer)                   # the OpenAPI model of the answer
    by_id = {w["window_id"]: w for w in answer["windows"]}
    assert by_id["WEEKLY:2026-11-15"] | {} == {
        "window_id": "WEEKLY:2026-11-15", "cycle": "WEEKLY", "period_start": "2026-11-09",
        "period_end": "2026-11-15", "status": "BLOCKED", "run_at": None, "reason": "NO_BILLTO x2: pay line t1:p2|...",
        "errors": 2, "since": "2026-11-17T19:00:00+00:00", "last_attempt": "2026-11-25T09:00:00+00:00",
        "attempts": 9, "invoice_count": None, "batch_id": None}
    assert by_id["WEEKLY:2026-11-22"]["status"] == "IN_PROGRESS"           # its retry is running now
    assert by_id["WEEKLY:2026-11-22"]["reason"].startswith("MISSING_BILL_RATE")
    assert (by_id["WEEKLY:2026-11-08"]["status"], by_id["WEEKLY:2026-11-08"]["invoice_count"]) == ("CLOSED", 3)
    assert by_id["MONTHLY:2026-10-31"]["status"] == "REFUSED"
    assert "cmd:g1" not in by_id                                              # on-demand runs are not windows
    scheduled = {w["window_id"]: w["run_at"] for w in answer["windows"] if w["status"] == "SCHEDULED"}
    # seed 003: week ending Sunday, 2 days' delay -> Tuesday 13:00; semi-monthly at midnight on the 2nd and 17th
    assert scheduled["WEEKLY:2026-11-29"] == "2026-12-01T13:00:00+00:00"
    assert scheduled["SEMI_MONTHLY:2026-11-30"] == "2026-12-02T00:00:00+00:00"
    assert set(scheduled) == {"WEEKLY:2026-11-29", "SEMI_MONTHLY:2026-11-30", "MONTHLY:2026-11-30"}
    ends = [w["period_end"] for w in answer["windows"]]
    assert ends == sorted(ends)


def test_a_tenant_unknown_here_lists_only_the_schedule():
    answer = tenant_windows("t9", None, [], [], False)
    assert answer == {"tenant_id": "t9", "served_here": False, "windows": []}
    assert "does not hold tenant t9" in table(answer)


def test_the_cli_table_has_one_row_per_window_with_status_since_and_reason():
    lines = table(_answer()).splitlines()
    assert lines[0].split() == ["WINDOW", "STATUS", "PERIOD", "SINCE", "ATTEMPTS", "INVOICES", "RUN", "AT", "/",
                                "REASON"]
    row = next(x for x in lines if x.startswith("WEEKLY:2026-11-15"))
    assert row.split()[:5] == ["WEEKLY:2026-11-15", "BLOCKED", "2026-11-09..2026-11-15", "2026-11-17T19:00:00+00:00",
                               "9"]
    assert row.endswith("NO_BILLTO x2: pay line t1:p2|...")
    closed = next(x for x in lines if x.startswith("WEEKLY:2026-11-08")).split()
    assert closed[1] == "CLOSED" and closed[-1] == "3"
    assert len(lines) == 1 + len(_answer()["windows"])
