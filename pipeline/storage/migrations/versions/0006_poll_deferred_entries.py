"""Polls count the new entries they left for the next poll (past the per-poll cap of
``NEWSWATCH_MAX_ENTRIES`` or the time budget ``NEWSWATCH_POLL_BUDGET``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("polls") as batch:
        batch.add_column(sa.Column("deferred", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("polls") as batch:
        batch.drop_column("deferred")
