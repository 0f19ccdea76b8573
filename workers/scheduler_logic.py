"""Which batch windows are due: every tenant x cycle window whose run time passed since
the last look. At start the look goes back to the oldest cycle's last closed window (or
`catch_up` for a tenant that has none), so windows missed while no worker ran are closed
late, not skipped, however long the outage; command ids are deterministic
("close:<tenant>:<window>"), so a window is never closed twice.

A window the health check blocked is not closed: each look sends it again
(`retries_due`, "close:<tenant>:<window>:retry<N>" for its N-th retry) until it passes.

Each tenant's windows come from its own calendar (its Invoice Setup: zone, week ending day,
delay, start time, cycles in use; `command_logic.calendar_for`), the deployment's settings
being the default for a tenant that set none."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping

from backoffice.invoice_setup import TenantCalendar
from backoffice.model import BillingCycle
from backoffice.schedules import BatchWindow
from infra.settings import Settings
from workers.command_logic import calendar_for
from workers.window_logic import TenantState, retry_command_id


@dataclass(frozen=True, slots=True)
class DueWindow:
    tenant_id: str
    window: BatchWindow
    retry: int = 0               # 0: the window's first close; N: its N-th retry after a block

    @property
    def command_id(self) -> str:
        if self.retry:
            return retry_command_id(self.tenant_id, self.window.window_id, self.retry)
        return f"close:{self.tenant_id}:{self.window.window_id}"


def retries_due(state: TenantState | None, settings: Settings) -> list[DueWindow]:
    """The tenant's blocked windows, each once more, oldest first. The N-th retry's id holds N (the
    number of blocked attempts so far): until that attempt is recorded, every look sends the same
    id and the command agent carries it out once."""
    out = []
    for blocked in state.blocked if state else ():
        cycle_name, _, end = blocked.window_key.partition(":")
        if cycle_name not in BillingCycle.__members__:
            continue
        window = calendar_for(state, settings).window_ending(BillingCycle(cycle_name), dt.date.fromisoformat(end))
        out.append(DueWindow(state.tenant_id, window, retry=blocked.attempts))
    return sorted(out, key=lambda d: (d.window.run_at, d.window.cycle.value))


def due_windows(tenant_ids: Iterable[str], settings: Settings, since: dt.datetime, now: dt.datetime,
                calendars: Mapping[str, TenantCalendar | None] | None = None) -> list[DueWindow]:
    """Every tenant's windows in use that run in (since, now], on the tenant's own calendar
    (`calendars`; a tenant missing there, or None, has the deployment's default)."""
    out = []
    default = calendar_for(None, settings)
    for tenant in sorted(set(tenant_ids)):
        calendar = (calendars or {}).get(tenant) or default
        for cycle in BillingCycle:
            out.extend(DueWindow(tenant, w) for w in calendar.windows_between(cycle, since, now))
    return sorted(out, key=lambda d: (d.window.run_at, d.tenant_id, d.window.cycle.value))


def tenants_in(billto_keys: Iterable[bytes]) -> set[str]:
    return {k.decode().split(":", 1)[0] for k in billto_keys}


def catch_up_since(closed: Iterable[str], now: dt.datetime, catch_up: dt.timedelta) -> dt.datetime:
    """Where a tenant's first look starts: back to the end of the period of its oldest cycle's
    last closed window (every window since runs after that), and never later than `catch_up` ago."""
    last: dict[str, dt.date] = {}
    for key in closed:
        cycle, _, end = key.partition(":")
        if cycle in BillingCycle.__members__:        # scheduled windows; on-demand keys are "cmd:<id>"
            day = dt.date.fromisoformat(end)
            last[cycle] = max(last.get(cycle, day), day)
    since = now - catch_up
    if len(last) == len(BillingCycle):
        oldest = min(last.values())
        since = min(since, dt.datetime.combine(oldest, dt.time(), tzinfo=dt.timezone.utc))
    return since
