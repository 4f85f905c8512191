"""Stories of events: each article's event vector and time, an outlet-scoped key of its feed
summary (the same piece under two URLs), learned topics' probabilities; stories lose the
concept centroid and anchors they were clustered by.

Articles stored before keep their stories; their event time is their publication time
(else when they were first seen). New articles are clustered among those that have an
event vector.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN on both databases: the articles table is never rebuilt (its full-text
    # triggers and the rows' order stay as they are).
    op.add_column("articles", sa.Column("event_vector", sa.LargeBinary(), nullable=True))
    op.add_column("articles", sa.Column("event_time", sa.DateTime(timezone=True), nullable=True))
    op.add_column("articles", sa.Column("summary_key", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_articles_event_time"), "articles", ["event_time"], unique=False)
    op.create_index(op.f("ix_articles_summary_key"), "articles", ["summary_key"], unique=False)
    op.execute("UPDATE articles SET event_time = CASE WHEN published_at IS NOT NULL AND published_at < first_seen_at "
               "THEN published_at ELSE first_seen_at END")
    op.add_column("article_concepts", sa.Column("score", sa.Float(), nullable=True))
    with op.batch_alter_table("stories") as batch:
        batch.drop_column("centroid")
        batch.drop_column("anchors")


def downgrade() -> None:
    with op.batch_alter_table("stories") as batch:
        batch.add_column(sa.Column("anchors", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("centroid", sa.JSON(), nullable=False, server_default="{}"))
    op.drop_index(op.f("ix_articles_summary_key"), table_name="articles")
    op.drop_index(op.f("ix_articles_event_time"), table_name="articles")
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+, PostgreSQL): no rebuild under the full-text triggers
    for table, column in (("article_concepts", "score"), ("articles", "summary_key"),
                          ("articles", "event_time"), ("articles", "event_vector")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
