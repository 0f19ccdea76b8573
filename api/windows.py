"""A tenant's batch windows from the read model: the outcomes of its CLOSE_WINDOW commands (the
scheduler's and the CLI's ids are `close:<tenant>:<CYCLE:END>`, a blocked window's retries
`...:retry<N>`), plus the next SCHEDULED window of each cycle.

- CLOSED: an attempt generated (its batch and document count); REFUSED: the last attempt was refused
  without health-check errors (a domain refusal closes the window); BLOCKED: the last attempts were
  refused by the health check (reason, since the first, attempts; the scheduler retries it).
- SCHEDULED rows (and every window's first day) follow the deployment's default Invoice Setup; a
  tenant that set its own (an accepted SET_INVOICE_SETUP) keeps it in the worker's tenant state,
  which the read model does not hold, so its SCHEDULED rows and first days are left out and
  `scheduled` says so.
- IN_PROGRESS is not known here (commands are not projected, only their outcomes).
"""
from __future__ import annotations

import datetime as dt
import re

from backoffice.health import Finding, HealthReport, Severity
from backoffice.model import BillingCycle
from workers.command_logic import calendar_for
from workers.window_logic import blocked_reason

def iso(at: dt.datetime) -> str:
    """An instant as ISO 8601 with its offset (SQLite hands back naive datetimes; they are UTC)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=dt.timezone.utc)).isoformat()


WINDOW = re.compile(r"^(WEEKLY|SEMI_MONTHLY|MONTHLY):(\d{4}-\d{2}-\d{2})(?::retry\d+)?$")


def _row(key: str, status: str, **extra) -> dict:
    cycle, _, period_end = key.partition(":")
    row = {"window_id": key, "cycle": cycle, "period_start": None, "period_end": period_end, "status": status,
           "run_at": None, "reason": None, "errors": None, "since": None, "last_attempt": None, "attempts": None,
           "invoice_count": None, "batch_id": None}
    row.update(extra)
    return row


def _errors(outcome: dict) -> list[Finding]:
    return [Finding(Severity.ERROR, f.get("code") or "", f.get("message") or "", f.get("ref") or "")
            for f in outcome["findings"] if f.get("severity") == "ERROR"]


def _window(key: str, attempts: list[dict]) -> dict:
    done = [o for o in attempts if o["ok"]]
    if done:
        first = done[0]
        return _row(key, "CLOSED", invoice_count=len(first["invoice_ids"]), batch_id=first["batch_id"])
    last = attempts[-1]
    if not _errors(last):
        return _row(key, "REFUSED", reason=last["message"], last_attempt=iso(last["occurred_at"]))
    blocked = [o for o in attempts if _errors(o)]
    return _row(key, "BLOCKED", reason=blocked_reason(HealthReport(tuple(_errors(last)))),
                errors=len(_errors(last)), since=iso(blocked[0]["occurred_at"]),
                last_attempt=iso(last["occurred_at"]), attempts=len(blocked))


def tenant_windows(tenant: str, close_outcomes: list[dict], setup_outcomes: list[dict], settings,
                   now: dt.datetime) -> dict:
    """`close_outcomes`: the tenant's outcomes whose command id starts with close:<tenant>: (oldest
    first); `setup_outcomes`: its SET_INVOICE_SETUP outcomes."""
    prefix = f"close:{tenant}:"
    attempts: dict[str, list[dict]] = {}
    for outcome in close_outcomes:
        match = WINDOW.match(outcome["command_id"].removeprefix(prefix))
        if match:
            attempts.setdefault(f"{match[1]}:{match[2]}", []).append(outcome)
    rows = {key: _window(key, found) for key, found in attempts.items()}
    own_setup = any(o["ok"] for o in setup_outcomes)
    if not own_setup:                   # the default calendar: each window's first day is known
        calendar = calendar_for(None, settings)
        for key, row in rows.items():
            cycle, _, end = key.partition(":")
            row["period_start"] = calendar.window_ending(BillingCycle(cycle), dt.date.fromisoformat(end)
                                                         ).period_start.isoformat()
    if own_setup:
        scheduled = ("left out: the tenant has its own Invoice Setup, which the read model does not hold "
                     "(`backoffice setup`)")
    else:
        scheduled = "the deployment's default Invoice Setup"
        calendar = calendar_for(None, settings)
        for cycle in BillingCycle:
            window = calendar.next_window(cycle, now)
            if window is not None and window.window_id not in rows:
                rows[window.window_id] = _row(window.window_id, "SCHEDULED", run_at=window.run_at.isoformat(),
                                              period_start=window.period_start.isoformat(),
                                              period_end=window.period_end.isoformat())
    ordered = sorted(rows.values(), key=lambda r: (r["window_id"].partition(":")[2], r["window_id"]))
    return {"tenant_id": tenant, "served_here": True, "windows": ordered, "scheduled": scheduled}
