"""The read model's tables (SQLAlchemy Core). Shaped for the clerk's reads: invoices by
status / account / batch / period, an invoice with its lines, sync status and history,
pending lines per account split Timesheets / Products & Services, dead letters with reasons.

Every row comes from one topic partition (keys: pay line id, invoice id, command id, the
dead letter's own position), so projector processes never write the same row at once;
`consumer_positions` holds, per group and partition, the next offset to read, written in
the same transaction as the rows it covers.
"""
from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, Index, Integer, LargeBinary, MetaData, Numeric, String, Table, Text,
)

metadata = MetaData()

MONEY = Numeric(18, 2)
QTY = Numeric(18, 4)
ID = String(512)

consumer_positions = Table(
    "consumer_positions", metadata,
    Column("group_id", String(255), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("next_offset", BigInteger, nullable=False),
)

pay_lines = Table(
    "pay_lines", metadata,
    Column("pay_line_id", ID, primary_key=True),
    Column("tenant_id", String(255), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("last_change", String(32), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("placement_id", ID, nullable=False),
    Column("placement_type", String(16)),
    Column("account_id", ID),
    Column("client_id", ID),
    Column("office_id", ID),
    Column("billing_cycle", String(16)),
    Column("source", String(32), nullable=False),
    Column("category", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("quantity", QTY, nullable=False),
    Column("rate", QTY, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("taxable", Boolean, nullable=False),
    Column("effective_date", Date, nullable=False),
    Column("work_date", Date, nullable=False),
    Column("work_start", Date),
    Column("period_end", Date),
    Column("pay_code", String(8)),
    Column("timesheet_id", ID),
    Column("fee_id", ID),
    Column("fee_kind", String(32)),
    Column("credited_line_id", ID),
    Column("credited_invoice_id", ID),
    Column("reason", Text),
    Column("window_key", ID),
    Column("invoice_id", ID),
    Index("ix_pay_lines_tenant_status_account", "tenant_id", "status", "account_id", "category"),
    Index("ix_pay_lines_invoice", "invoice_id"),
)

invoices = Table(
    "invoices", metadata,
    Column("invoice_id", ID, primary_key=True),
    Column("tenant_id", String(255), nullable=False),
    Column("number", String(64)),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_event", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("batch_id", ID, nullable=False),
    Column("account_id", ID, nullable=False),
    Column("account_name", Text, nullable=False),
    Column("grouping_key", Text, nullable=False),
    Column("currency", String(8), nullable=False),
    Column("subtotal", MONEY, nullable=False),
    Column("tax", MONEY, nullable=False),
    Column("total", MONEY, nullable=False),
    Column("issue_date", Date),
    Column("due_date", Date),
    Column("period_start", Date),
    Column("period_end", Date),
    Column("purchase_order", Text),
    Column("line_count", Integer, nullable=False),
    Column("document_uris", Text),                     # JSON list of stored PDFs (migration 0002)
    Column("error", Text),                             # the last refused document command, if any
    Column("allocations", Text),                       # credit memo: JSON [{invoice_id, amount}]
    Index("ix_invoices_tenant_status", "tenant_id", "status"),
    Index("ix_invoices_tenant_account", "tenant_id", "account_id"),
    Index("ix_invoices_tenant_batch", "tenant_id", "batch_id"),
    Index("ix_invoices_tenant_number", "tenant_id", "number"),
    Index("ix_invoices_tenant_period", "tenant_id", "period_end"),
)

invoice_lines = Table(
    "invoice_lines", metadata,
    Column("invoice_id", ID, primary_key=True),
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("line_id", ID, nullable=False),
    Column("pay_line_id", ID, nullable=False),
    Column("placement_id", ID, nullable=False),
    Column("description", Text, nullable=False),
    Column("quantity", QTY, nullable=False),
    Column("rate", QTY, nullable=False),
    Column("amount", MONEY, nullable=False),
    Column("taxable", Boolean, nullable=False),
    Column("category", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("pay_code", String(8)),
    Column("work_date", Date),
    Column("work_start", Date),
    Column("credited_line_id", ID),
    Column("credited_invoice_id", ID),
    Column("tax_share", MONEY),
    Column("line_total", MONEY),
)

#: Every invoice event, in topic order: an invoice's history.
invoice_events = Table(
    "invoice_events", metadata,
    Column("event_id", ID, primary_key=True),
    Column("invoice_id", ID, nullable=False),
    Column("tenant_id", String(255), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Index("ix_invoice_events_invoice", "invoice_id", "offset"),
)

#: The newest outcome per (document, AR/GL system).
sync_status = Table(
    "sync_status", metadata,
    Column("invoice_id", ID, primary_key=True),
    Column("system", String(64), primary_key=True),
    Column("tenant_id", String(255), nullable=False),
    Column("number", String(64)),
    Column("status", String(16), nullable=False),
    Column("external_id", ID),
    Column("error", Text),
    Column("attempts", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_sync_status_tenant_status", "tenant_id", "status"),
)

#: Every sync outcome: the history behind sync_status.
sync_events = Table(
    "sync_events", metadata,
    Column("event_id", ID, primary_key=True),
    Column("invoice_id", ID, nullable=False),
    Column("system", String(64), nullable=False),
    Column("tenant_id", String(255), nullable=False),
    Column("status", String(16), nullable=False),
    Column("external_id", ID),
    Column("error", Text),
    Column("attempts", Integer, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_sync_events_invoice", "invoice_id", "occurred_at"),
)

command_outcomes = Table(
    "command_outcomes", metadata,
    Column("command_id", ID, primary_key=True),
    Column("event_id", ID, nullable=False),
    Column("tenant_id", String(255), nullable=False),
    Column("command", String(64), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("message", Text, nullable=False),
    Column("batch_id", ID),
    Column("invoice_ids", Text, nullable=False),        # JSON list
    Column("findings", Text, nullable=False),           # JSON list of {severity, code, message, ref}
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Index("ix_command_outcomes_tenant_batch", "tenant_id", "batch_id"),
)

#: One row per dead letter, keyed by where it sits on its dead-letter topic.
dead_letters = Table(
    "dead_letters", metadata,
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("offset", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", ID, nullable=False),
    Column("tenant_id", String(255), nullable=False),
    Column("original_topic", String(255), nullable=False),
    Column("original_partition", Integer, nullable=False),
    Column("original_offset", BigInteger, nullable=False),
    Column("original_key", LargeBinary),
    Column("original_value", LargeBinary, nullable=False),
    Column("error_type", String(255), nullable=False),
    Column("error", Text, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Index("ix_dead_letters_tenant", "tenant_id", "first_seen"),
)
