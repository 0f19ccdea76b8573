"""Which batch windows are due: every tenant x cycle window whose run time passed since
the last look. At start the look goes back `catch_up` so windows missed while no
worker ran are closed late, not skipped; command ids are deterministic
("close:<tenant>:<window>"), so a window is never closed twice."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable

from backoffice.model import BillingCycle
from backoffice.schedules import BatchWindow
from infra.settings import Settings
from workers.command_logic import schedule_for


@dataclass(frozen=True, slots=True)
class DueWindow:
    tenant_id: str
    window: BatchWindow

    @property
    def command_id(self) -> str:
        return f"close:{self.tenant_id}:{self.window.window_id}"


def due_windows(tenant_ids: Iterable[str], settings: Settings, since: dt.datetime, now: dt.datetime) -> list[DueWindow]:
    out = []
    for cycle in BillingCycle:
        windows = schedule_for(cycle, settings).windows_between(since, now)
        for tenant in sorted(set(tenant_ids)):
            out.extend(DueWindow(tenant, w) for w in windows)
    return sorted(out, key=lambda d: (d.window.run_at, d.tenant_id, d.window.cycle.value))


def tenants_in(billto_keys: Iterable[bytes]) -> set[str]:
    return {k.decode().split(":", 1)[0] for k in billto_keys}
