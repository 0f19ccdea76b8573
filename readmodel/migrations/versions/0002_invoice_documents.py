"""Invoices keep their stored documents' URIs, the last refusal and a credit memo's allocations
(the ops API's invoice detail).

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('invoices', sa.Column('document_uris', sa.Text(), nullable=True))
    op.add_column('invoices', sa.Column('error', sa.Text(), nullable=True))
    op.add_column('invoices', sa.Column('allocations', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('invoices', 'allocations')
    op.drop_column('invoices', 'error')
    op.drop_column('invoices', 'document_uris')
