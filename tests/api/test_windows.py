"""A tenant's windows from its CLOSE_WINDOW outcomes (api/windows.py, pure) and the CLI's table of
the answer (cli/windows.py)."""
import datetime as dt

from api.models import TenantWindows
from api.windows import tenant_windows
from cli.windows import table
from infra.settings import load_settings
from tests.api.conftest import outcome

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 9, tzinfo=UTC)
SINCE = dt.datetime(2026, 11, 17, 19, tzinfo=UTC)
NO_BILLTO = [("ERROR", "NO_BILLTO", "pay line t1:p2|...", "t1:p2|a"), ("ERROR", "NO_BILLTO", "pay line t1:p2|b", "b"),
             ("WARNING", "AP_CONTACT_NO_EMAIL", "no email", "acc")]


def _answer(setups=()):
    hour = dt.timedelta(hours=1)
    closes = [
        outcome("t1", "close:t1:WEEKLY:2026-11-08", "CLOSE_WINDOW", True, SINCE - 200 * hour, batch_id="b-1",
                invoice_ids=["i1", "i2", "i3"]),
        *[outcome("t1", "close:t1:WEEKLY:2026-11-15" + (f":retry{n}" if n else ""), "CLOSE_WINDOW", False,
                  SINCE + n * hour, findings=NO_BILLTO) for n in range(9)],
        outcome("t1", "close:t1:MONTHLY:2026-10-31", "CLOSE_WINDOW", False, SINCE - 400 * hour,
                message="refused: NumberReused"),
        outcome("t1", "close:t1:not-a-window", "CLOSE_WINDOW", True, SINCE),         # ignored: no window id
    ]
    return tenant_windows("t1", closes, list(setups), load_settings(), NOW)


def test_windows_say_which_are_blocked_why_and_since_when():
    answer = _answer()
    TenantWindows.model_validate(answer)                   # the OpenAPI model of the answer
    by_id = {w["window_id"]: w for w in answer["windows"]}
    assert by_id["WEEKLY:2026-11-15"] == {
        "window_id": "WEEKLY:2026-11-15", "cycle": "WEEKLY", "period_start": "2026-11-09",
        "period_end": "2026-11-15", "status": "BLOCKED", "run_at": None,
        "reason": "NO_BILLTO x2: pay line t1:p2|...", "errors": 2, "since": "2026-11-17T19:00:00+00:00",
        "last_attempt": "2026-11-18T03:00:00+00:00", "attempts": 9, "invoice_count": None, "batch_id": None}
    assert (by_id["WEEKLY:2026-11-08"]["status"], by_id["WEEKLY:2026-11-08"]["invoice_count"]) == ("CLOSED", 3)
    assert by_id["MONTHLY:2026-10-31"]["status"] == "REFUSED"
    assert by_id["MONTHLY:2026-10-31"]["reason"] == "refused: NumberReused"
    scheduled = {w["window_id"]: w["run_at"] for w in answer["windows"] if w["status"] == "SCHEDULED"}
    # seed 003: week ending Sunday, 2 days' delay -> Tuesday 13:00; semi-monthly at midnight on the 2nd and 17th
    assert scheduled["WEEKLY:2026-11-29"] == "2026-12-01T13:00:00+00:00"
    assert scheduled["SEMI_MONTHLY:2026-11-30"] == "2026-12-02T00:00:00+00:00"
    assert set(scheduled) == {"WEEKLY:2026-11-29", "SEMI_MONTHLY:2026-11-30", "MONTHLY:2026-11-30"}
    ends = [w["period_end"] for w in answer["windows"]]
    assert ends == sorted(ends)


def test_a_window_closed_after_being_blocked_is_closed():
    closes = [outcome("t1", "close:t1:WEEKLY:2026-11-15", "CLOSE_WINDOW", False, SINCE, findings=NO_BILLTO),
              outcome("t1", "close:t1:WEEKLY:2026-11-15:retry1", "CLOSE_WINDOW", True, SINCE, batch_id="b-2",
                      invoice_ids=["i9"])]
    (row,) = [w for w in tenant_windows("t1", closes, [], load_settings(), NOW)["windows"]
              if w["window_id"] == "WEEKLY:2026-11-15"]
    assert (row["status"], row["batch_id"], row["invoice_count"], row["reason"]) == ("CLOSED", "b-2", 1, None)


def test_the_cli_table_has_one_row_per_window_with_status_since_and_reason():
    lines = table(_answer()).splitlines()
    assert lines[0].split() == ["WINDOW", "STATUS", "PERIOD", "SINCE", "ATTEMPTS", "INVOICES", "RUN", "AT", "/",
                                "REASON"]
    row = next(x for x in lines if x.startswith("WEEKLY:2026-11-15"))
    assert row.split()[:5] == ["WEEKLY:2026-11-15", "BLOCKED", "2026-11-09..2026-11-15", "2026-11-17T19:00:00+00:00", "9"]
    assert row.endswith("NO_BILLTO x2: pay line t1:p2|...")
    closed = next(x for x in lines if x.startswith("WEEKLY:2026-11-08")).split()
    assert closed[1] == "CLOSED" and closed[-1] == "3"
    assert len(lines) == 1 + len(_answer()["windows"])


def test_a_tenant_with_its_own_setup_gets_a_note_instead_of_default_schedules():
    answer = _answer([outcome("t1", "s1", "SET_INVOICE_SETUP", True, SINCE)])
    assert not [w for w in answer["windows"] if w["status"] == "SCHEDULED"]
    assert table(answer).splitlines()[-1].startswith("(scheduled windows left out")
