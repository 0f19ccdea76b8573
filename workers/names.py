"""Every internal topic and table name of the Faust app, in one place.

External topics (the event contract) are in `schemas/topics.py`.
"""
from __future__ import annotations

APP_ID = "backoffice-worker"

# Internal topics. LEDGER_* topics are co-partitioned with the ats.* placement topics.
LEDGER_COMMANDS = "backoffice.ledger-commands"      # key tenant:placement -> snooze/credit/mark-invoiced/release
WINDOW_REQUESTS = "backoffice.window-requests"      # one message per ledger partition per window
WINDOW_LINES = "backoffice.window-lines"            # key tenant -> line chunks + end markers

# Tables.
BILLTO_TABLE = "billto"              # GlobalTable  tenant:entity_id -> BilltoNode
LEDGER_TABLE = "ledgers"             # Table        tenant:placement_id -> LedgerState
TENANT_TABLE = "tenants"             # Table        tenant -> TenantState (numbering, windows, batches)
WINDOW_TABLE = "window-chunks"       # Table        tenant|window|partition|chunk -> lines
COMMAND_TABLE = "commands-seen"      # Table        command id -> outcome (idempotency)
