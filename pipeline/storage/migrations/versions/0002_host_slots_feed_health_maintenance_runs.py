"""Host slots (per-host spacing across workers), feed health, and maintenance runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('host_slots',
    sa.Column('host', sa.String(length=300), nullable=False),
    sa.Column('next_request_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('host', name=op.f('pk_host_slots'))
    )
    op.create_table('maintenance_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('feeds_checked', sa.Integer(), nullable=False),
    sa.Column('feeds_failing', sa.Integer(), nullable=False),
    sa.Column('feeds_silent', sa.Integer(), nullable=False),
    sa.Column('feeds_unpolled', sa.Integer(), nullable=False),
    sa.Column('polls_pruned', sa.Integer(), nullable=False),
    sa.Column('statistics_refreshed', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_maintenance_runs'))
    )
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('health', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('health_note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('health_checked_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('feeds', schema=None) as batch_op:
        batch_op.drop_column('health_checked_at')
        batch_op.drop_column('health_note')
        batch_op.drop_column('health')

    op.drop_table('maintenance_runs')
    op.drop_table('host_slots')
