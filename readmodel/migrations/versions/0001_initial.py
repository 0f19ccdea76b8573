"""The read model: pay lines, invoices with lines and history, sync status and history, command
outcomes, dead letters, consumer positions.

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('command_outcomes',
    sa.Column('command_id', sa.String(length=512), nullable=False),
    sa.Column('event_id', sa.String(length=512), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('command', sa.String(length=64), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('batch_id', sa.String(length=512), nullable=True),
    sa.Column('invoice_ids', sa.Text(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('command_id')
    )
    with op.batch_alter_table('command_outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_command_outcomes_tenant_batch', ['tenant_id', 'batch_id'], unique=False)

    op.create_table('consumer_positions',
    sa.Column('group_id', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('next_offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('group_id', 'topic', 'partition')
    )
    op.create_table('dead_letters',
    sa.Column('topic', sa.String(length=255), nullable=False),
    sa.Column('partition', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('offset', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.String(length=512), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('original_topic', sa.String(length=255), nullable=False),
    sa.Column('original_partition', sa.Integer(), nullable=False),
    sa.Column('original_offset', sa.BigInteger(), nullable=False),
    sa.Column('original_key', sa.LargeBinary(), nullable=True),
    sa.Column('original_value', sa.LargeBinary(), nullable=False),
    sa.Column('error_type', sa.String(length=255), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('topic', 'partition', 'offset')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_dead_letters_tenant', ['tenant_id', 'first_seen'], unique=False)

    op.create_table('invoice_events',
    sa.Column('event_id', sa.String(length=512), nullable=False),
    sa.Column('invoice_id', sa.String(length=512), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('invoice_events', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_events_invoice', ['invoice_id', 'offset'], unique=False)

    op.create_table('invoice_lines',
    sa.Column('invoice_id', sa.String(length=512), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('line_id', sa.String(length=512), nullable=False),
    sa.Column('pay_line_id', sa.String(length=512), nullable=False),
    sa.Column('placement_id', sa.String(length=512), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('rate', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('taxable', sa.Boolean(), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('pay_code', sa.String(length=8), nullable=True),
    sa.Column('work_date', sa.Date(), nullable=True),
    sa.Column('work_start', sa.Date(), nullable=True),
    sa.Column('credited_line_id', sa.String(length=512), nullable=True),
    sa.Column('credited_invoice_id', sa.String(length=512), nullable=True),
    sa.Column('tax_share', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('line_total', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.PrimaryKeyConstraint('invoice_id', 'position')
    )
    op.create_table('invoices',
    sa.Column('invoice_id', sa.String(length=512), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('last_event', sa.String(length=16), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('batch_id', sa.String(length=512), nullable=False),
    sa.Column('account_id', sa.String(length=512), nullable=False),
    sa.Column('account_name', sa.Text(), nullable=False),
    sa.Column('grouping_key', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('tax', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('purchase_order', sa.Text(), nullable=True),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('invoice_id')
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_tenant_account', ['tenant_id', 'account_id'], unique=False)
        batch_op.create_index('ix_invoices_tenant_batch', ['tenant_id', 'batch_id'], unique=False)
        batch_op.create_index('ix_invoices_tenant_number', ['tenant_id', 'number'], unique=False)
        batch_op.create_index('ix_invoices_tenant_period', ['tenant_id', 'period_end'], unique=False)
        batch_op.create_index('ix_invoices_tenant_status', ['tenant_id', 'status'], unique=False)

    op.create_table('pay_lines',
    sa.Column('pay_line_id', sa.String(length=512), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('last_change', sa.String(length=32), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('placement_id', sa.String(length=512), nullable=False),
    sa.Column('placement_type', sa.String(length=16), nullable=True),
    sa.Column('account_id', sa.String(length=512), nullable=True),
    sa.Column('client_id', sa.String(length=512), nullable=True),
    sa.Column('office_id', sa.String(length=512), nullable=True),
    sa.Column('billing_cycle', sa.String(length=16), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('rate', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('taxable', sa.Boolean(), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('work_date', sa.Date(), nullable=False),
    sa.Column('work_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.Column('pay_code', sa.String(length=8), nullable=True),
    sa.Column('timesheet_id', sa.String(length=512), nullable=True),
    sa.Column('fee_id', sa.String(length=512), nullable=True),
    sa.Column('fee_kind', sa.String(length=32), nullable=True),
    sa.Column('credited_line_id', sa.String(length=512), nullable=True),
    sa.Column('credited_invoice_id', sa.String(length=512), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('window_key', sa.String(length=512), nullable=True),
    sa.Column('invoice_id', sa.String(length=512), nullable=True),
    sa.PrimaryKeyConstraint('pay_line_id')
    )
    with op.batch_alter_table('pay_lines', schema=None) as batch_op:
        batch_op.create_index('ix_pay_lines_invoice', ['invoice_id'], unique=False)
        batch_op.create_index('ix_pay_lines_tenant_status_account', ['tenant_id', 'status', 'account_id', 'category'], unique=False)

    op.create_table('sync_events',
    sa.Column('event_id', sa.String(length=512), nullable=False),
    sa.Column('invoice_id', sa.String(length=512), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=512), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('sync_events', schema=None) as batch_op:
        batch_op.create_index('ix_sync_events_invoice', ['invoice_id', 'occurred_at'], unique=False)

    op.create_table('sync_status',
    sa.Column('invoice_id', sa.String(length=512), nullable=False),
    sa.Column('system', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=255), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=512), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('invoice_id', 'system')
    )
    with op.batch_alter_table('sync_status', schema=None) as batch_op:
        batch_op.create_index('ix_sync_status_tenant_status', ['tenant_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sync_status', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_status_tenant_status')

    op.drop_table('sync_status')
    with op.batch_alter_table('sync_events', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_events_invoice')

    op.drop_table('sync_events')
    with op.batch_alter_table('pay_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_pay_lines_tenant_status_account')
        batch_op.drop_index('ix_pay_lines_invoice')

    op.drop_table('pay_lines')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_tenant_status')
        batch_op.drop_index('ix_invoices_tenant_period')
        batch_op.drop_index('ix_invoices_tenant_number')
        batch_op.drop_index('ix_invoices_tenant_batch')
        batch_op.drop_index('ix_invoices_tenant_account')

    op.drop_table('invoices')
    op.drop_table('invoice_lines')
    with op.batch_alter_table('invoice_events', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_events_invoice')

    op.drop_table('invoice_events')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_dead_letters_tenant')

    op.drop_table('dead_letters')
    op.drop_table('consumer_positions')
    with op.batch_alter_table('command_outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_command_outcomes_tenant_batch')

    op.drop_table('command_outcomes')
