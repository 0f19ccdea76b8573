"""The batch-window scheduler: a timer publishing close commands.

Each tenant's windows are fired by the one worker that owns the tenant's partition of
the Billto table (the timer reads only its active partitions), so exactly one worker
looks after a tenant at a time; what a rebalance might fire twice is deduplicated by
the command id ("close:<tenant>:<window>") and the tenant's closed-window set.
The look-back is per tenant: a tenant that moves to this worker is caught up from its
cycles' last closed windows (or `BACKOFFICE_CATCH_UP_DAYS` ago for a tenant without any),
so windows missed while no worker ran are not skipped, however long nothing ran.

Each tenant's windows follow its own Invoice Setup (TenantState.calendar), else the
deployment's settings.

It never touches a table (Faust refuses table writes outside stream iteration): the
close is a command, and the command agent (deduplicating by command id) does the rest.
"""
from __future__ import annotations

import datetime as dt
import logging
import os

from infra.settings import load_settings
from schemas.codec import encode
from workers import clock
from workers.app import app
from workers.guard import keeps_ticking
from workers.command_logic import calendar_for
from workers.scheduler_logic import catch_up_since, due_windows, retries_due, tenants_in
from workers.topology import billto, commands_topic, tenants

log = logging.getLogger(__name__)
SETTINGS = load_settings()
CATCH_UP = dt.timedelta(days=float(os.environ.get("BACKOFFICE_CATCH_UP_DAYS", "35")))
INTERVAL = float(os.environ.get("BACKOFFICE_SCHEDULER_INTERVAL", "30"))
_last_look: dict[str, dt.datetime] = {}


@app.timer(INTERVAL)
@keeps_ticking("close_due_windows")
async def close_due_windows() -> None:
    now = clock.now()
    for tenant in sorted(tenants_in(billto.keys())):
        state = tenants.get(tenant.encode())
        since = _last_look.get(tenant) or catch_up_since(state.closed if state else (), now, CATCH_UP)
        due = due_windows([tenant], SETTINGS, since, now, {tenant: calendar_for(state, SETTINGS)})
        await _close(retries_due(state, SETTINGS) + due, now)
        _last_look[tenant] = now


async def _close(due_list, now) -> None:
    for due in due_list:
        w = due.window
        record = {"event_id": due.command_id, "tenant_id": due.tenant_id, "occurred_at": now,
                  "command_id": due.command_id, "command": "CLOSE_WINDOW", "requested_by": "scheduler",
                  "window_id": w.window_id, "as_of": w.run_at.date(), "recipients": [], "pay_line_ids": [],
                  "resend": False, **{f: None for f in ("pay_line_id", "placement_id", "account_id", "first_number",
                                                         "invoice_id", "batch_id", "invoice_line_id", "amount",
                                                         "reason", "template")}}
        await commands_topic.send(key=due.tenant_id.encode(), value=encode("OperatorCommand", record))
        if due.retry:
            log.info("blocked window %s of %s sent again (retry %d)", w.window_id, due.tenant_id, due.retry)
        else:
            log.info("scheduled close of %s for %s", w.window_id, due.tenant_id)
