"""The per-outlet boilerplate memory (outlet_paragraphs), and an index on the articles of
an outlet by first sight, through which the memory cleans an outlet's earlier articles.

Articles stored before this revision keep their text; the memory counts from here on.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('outlet_paragraphs',
    sa.Column('outlet', sa.String(length=200), nullable=False),
    sa.Column('fingerprint', sa.String(length=16), nullable=False),
    sa.Column('articles', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('example', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('outlet', 'fingerprint', name=op.f('pk_outlet_paragraphs'))
    )
    op.create_index(op.f('ix_outlet_paragraphs_last_seen_at'), 'outlet_paragraphs', ['last_seen_at'])
    op.create_index(op.f('ix_articles_outlet_first_seen_at'), 'articles', ['outlet', 'first_seen_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_articles_outlet_first_seen_at'), table_name='articles')
    op.drop_index(op.f('ix_outlet_paragraphs_last_seen_at'), table_name='outlet_paragraphs')
    op.drop_table('outlet_paragraphs')
