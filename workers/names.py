"""Every internal topic and table name of the Faust app, in one place.

External topics (the event contract) are in `schemas/topics.py`. Internal topic
names get the app id as prefix (see workers/topology.py) so two apps never share them.
"""
from __future__ import annotations

APP_ID = "backoffice-worker"

# Internal topics.
LEDGER_COMMANDS = "ledger-commands"      # co-partitioned with ats.*: collect/settle/snooze/credit per ledger partition
WINDOW_LINES = "window-lines"            # key tenant: due line chunks + one end marker per ledger partition
DOCUMENT_COMMANDS = "document-commands"  # key invoice id: generated invoices, record/send/void
BILLTO_BY_TENANT = "billto-by-tenant"    # key tenant:entity, partitioned by tenant like window-lines

# Tables.
BILLTO_TABLE = "billto"              # Table        tenant:entity_id -> BilltoNode, partitioned by tenant
LEDGER_TABLE = "ledgers"             # Table        tenant:placement_id -> LedgerRecord
WINDOW_TABLE = "windows"             # Table        tenant|window_key -> WindowState
CHUNK_TABLE = "window-chunks"        # Table        tenant|window_key|partition|chunk -> LinesChunk
TENANT_TABLE = "tenants"             # Table        tenant -> TenantState (numbering, windows, batches)
COMMAND_TABLE = "commands-seen"      # Table        command id -> outcome (idempotency)
BATCH_TABLE = "batches"              # Table        batch id -> Batch (List Batches), partitioned by tenant
SYNC_TABLE = "sync-status"             # Table        invoice id -> latest billing.sync record
INVOICE_TABLE = "invoices"           # Table        invoice id -> InvoiceRecord


def ingest_topics(app_id: str = APP_ID) -> list[str]:
    """What an app must have consumed before a window sees every event published so far:
    the ATS inputs, and the internal re-keyed copy of the Billto hierarchy."""
    from schemas.topics import ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS

    return [ATS_ACCOUNTS, ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES, f"{app_id}-{BILLTO_BY_TENANT}"]
