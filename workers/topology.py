"""Every topic and table the agents share, declared once on the app."""
from __future__ import annotations

from schemas.topics import (
    ATS_ACCOUNTS, ATS_FEES, ATS_PLACEMENTS, ATS_TIMESHEETS, BILLING_COMMANDS, BILLING_INVOICES, BILLING_OUTCOMES,
    BILLING_PAYLINES, BILLING_SYNC, PLACEMENT_PARTITIONS,
)
from infra.settings import load_settings
from workers import names
from workers.app import RAW, STATE, app
from workers.paylines_out import observer, resender
from workers.state import ObservedTable, StateTable

P = PLACEMENT_PARTITIONS
TENANT_PARTITIONS = 4
#: Every table's RocksDB bounds (one database per table partition a worker holds): Faust's
#: defaults (64 MiB x 3 memtables, a 2 GiB block cache, per partition) let a worker that reads
#: its topics again grow by its write volume until 8 ledger partitions hold ~64 MiB memtables each.
STORE = load_settings().rocksdb_options()


def _internal(name: str, partitions: int):
    return app.topic(f"{app.conf.id}-{name}", schema=STATE, partitions=partitions, internal=True)


# External topics: raw bytes, decoded by our codec in the agents.
accounts_topic = app.topic(ATS_ACCOUNTS, schema=RAW, partitions=4, internal=False)
# The three co-partitioned ledger inputs as one subscription: one stream sees a partition's
# placements, timesheets and fees in fetch order, so a backlog seldom has a timesheet
# overtake its placement (with one agent per topic, about half of them did and were parked).
ledger_inputs_topic = app.topic(ATS_PLACEMENTS, ATS_TIMESHEETS, ATS_FEES, schema=RAW, partitions=P, internal=False)
commands_topic = app.topic(BILLING_COMMANDS, schema=RAW, partitions=TENANT_PARTITIONS, internal=False)
invoices_out = app.topic(BILLING_INVOICES, schema=RAW, internal=False)
outcomes_out = app.topic(BILLING_OUTCOMES, schema=RAW, internal=False)
sync_topic = app.topic(BILLING_SYNC, schema=RAW, partitions=4, internal=False)
paylines_out = app.topic(BILLING_PAYLINES, schema=RAW, partitions=P, internal=False)

# Internal topics (co-partitioned with the placement topics where they address ledgers).
ledger_commands = _internal(names.LEDGER_COMMANDS, P)
window_lines = _internal(names.WINDOW_LINES, TENANT_PARTITIONS)
document_commands = _internal(names.DOCUMENT_COMMANDS, P)
billto_by_tenant = _internal(names.BILLTO_BY_TENANT, TENANT_PARTITIONS)

# Tables: bytes in the store, each value encoded under one state schema (workers/state.py).
def _table(name: str, partitions: int, state: str) -> StateTable:
    return StateTable(app.Table(name, options=STORE, default=None, partitions=partitions, key_type=bytes,
                                value_type=bytes), state)


# Partitioned by tenant (written from billto_by_tenant), co-partitioned with window-lines.
billto = _table(names.BILLTO_TABLE, TENANT_PARTITIONS, "billto_node")
# Every write to a ledger record sends its pay-line changes to billing.paylines (workers.paylines_out).
ledgers = ObservedTable(app.Table(names.LEDGER_TABLE, options=STORE, default=None, partitions=P, key_type=bytes,
                                  value_type=bytes), observer(paylines_out), resender(paylines_out), "ledger_record")
windows = _table(names.WINDOW_TABLE, TENANT_PARTITIONS, "window_state")
window_chunks = _table(names.CHUNK_TABLE, TENANT_PARTITIONS, "lines_chunk")
tenants = _table(names.TENANT_TABLE, TENANT_PARTITIONS, "tenant_state")
commands_seen = _table(names.COMMAND_TABLE, TENANT_PARTITIONS, "command_seen")
invoices = _table(names.INVOICE_TABLE, P, "invoice_record")
sync_status = _table(names.SYNC_TABLE, 4, "sync_status")
batches = _table(names.BATCH_TABLE, TENANT_PARTITIONS, "batch")
