"""Fetch claims: the pages polls are fetching now, so two polls at once never both fetch one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('fetch_claims',
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('owner', sa.String(length=40), nullable=False),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('url', name=op.f('pk_fetch_claims'))
    )
    op.create_index(op.f('ix_fetch_claims_claimed_at'), 'fetch_claims', ['claimed_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_fetch_claims_claimed_at'), table_name='fetch_claims')
    op.drop_table('fetch_claims')
