"""Full-text search: article_search with its terms; FTS5 on SQLite, a tsvector + GIN on PostgreSQL
(``document`` to match, the small ``lead`` of title and first words to rank).

The terms come from ``pipeline.fulltext`` (one analyzer for both databases); articles
stored before this revision are indexed here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from pipeline.fulltext import index_text

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SQLITE_FTS = [
    # Deleting an article takes its index entry along even where foreign keys are off
    # (SQLite enforces them only when a connection asks; ours do, the sqlite3 shell does not).
    """CREATE TRIGGER article_search_article_deleted AFTER DELETE ON articles BEGIN
         DELETE FROM article_search WHERE article_id = old.id;
       END""",
    """CREATE VIRTUAL TABLE article_search_fts USING fts5(
         title_terms, body_terms, content='article_search', content_rowid='article_id',
         tokenize='unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER article_search_ai AFTER INSERT ON article_search BEGIN
         INSERT INTO article_search_fts(rowid, title_terms, body_terms)
         VALUES (new.article_id, new.title_terms, new.body_terms);
       END""",
    """CREATE TRIGGER article_search_ad AFTER DELETE ON article_search BEGIN
         INSERT INTO article_search_fts(article_search_fts, rowid, title_terms, body_terms)
         VALUES ('delete', old.article_id, old.title_terms, old.body_terms);
       END""",
    """CREATE TRIGGER article_search_au AFTER UPDATE ON article_search BEGIN
         INSERT INTO article_search_fts(article_search_fts, rowid, title_terms, body_terms)
         VALUES ('delete', old.article_id, old.title_terms, old.body_terms);
         INSERT INTO article_search_fts(rowid, title_terms, body_terms)
         VALUES (new.article_id, new.title_terms, new.body_terms);
       END""",
]


def upgrade() -> None:
    op.create_table('article_search',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('title_terms', sa.Text(), nullable=False),
    sa.Column('body_terms', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_search_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', name=op.f('pk_article_search'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.add_column('article_search', sa.Column('document', postgresql.TSVECTOR(), nullable=False))
        op.add_column('article_search', sa.Column('lead', postgresql.TSVECTOR(), nullable=False))
        op.create_index('ix_article_search_document', 'article_search', ['document'], postgresql_using='gin')
    else:
        for statement in SQLITE_FTS:
            op.execute(statement)
    _index_existing_articles()


def _index_existing_articles(batch: int = 500) -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == 'postgresql'
    insert = sa.text(
        'INSERT INTO article_search (article_id, language, published_at, title_terms, body_terms'
        + (', document, lead) VALUES (:id, :language, :published_at, :title_terms, :body_terms, '
           'CAST(:document AS tsvector), CAST(:lead AS tsvector))'
           if postgres else ') VALUES (:id, :language, :published_at, :title_terms, :body_terms)'))
    last = 0
    while True:
        rows = bind.execute(sa.text('SELECT id, title, text, language, coalesce(published_at, first_seen_at) '
                                    'AS published_at FROM articles WHERE id > :last ORDER BY id LIMIT :batch'),
                            {'last': last, 'batch': batch}).all()
        if not rows:
            return
        values = []
        for row in rows:
            indexed = index_text(row.title or '', row.text or '', row.language)
            values.append({'id': row.id, 'language': row.language, 'published_at': row.published_at,
                           'title_terms': indexed.title_terms,
                           'body_terms': indexed.body_terms, 'document': indexed.tsvector() if postgres else None,
                           'lead': indexed.lead_tsvector() if postgres else None})
        bind.execute(insert, values)
        last = rows[-1].id


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        for trigger in ('article_search_ai', 'article_search_ad', 'article_search_au',
                        'article_search_article_deleted'):
            op.execute(f'DROP TRIGGER IF EXISTS {trigger}')
        op.execute('DROP TABLE IF EXISTS article_search_fts')
    op.drop_table('article_search')
