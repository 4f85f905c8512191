"""Near-duplicates (MinHash bands), stories, concept matches, versions and re-checks.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('stories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('article_count', sa.Integer(), nullable=False),
    sa.Column('outlets', sa.JSON(), nullable=False),
    sa.Column('languages', sa.JSON(), nullable=False),
    sa.Column('centroid', sa.JSON(), nullable=False),
    sa.Column('anchors', sa.JSON(), nullable=False),
    sa.Column('merged_into', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['merged_into'], ['stories.id'], name=op.f('fk_stories_merged_into_stories'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stories'))
    )
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stories_first_seen_at'), ['first_seen_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stories_last_seen_at'), ['last_seen_at'], unique=False)

    op.create_table('article_concepts',
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('concept', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.Column('terms', sa.JSON(), nullable=False),
    sa.Column('is_topic', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_concepts_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('article_id', 'concept', name=op.f('pk_article_concepts'))
    )
    with op.batch_alter_table('article_concepts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_concepts_concept'), ['concept'], unique=False)
        batch_op.create_index(batch_op.f('ix_article_concepts_is_topic'), ['is_topic'], unique=False)

    op.create_table('article_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_sha256', sa.String(length=64), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_article_versions_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_article_versions')),
    sa.UniqueConstraint('article_id', 'version', name=op.f('uq_article_versions_article_id_version'))
    )
    with op.batch_alter_table('article_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_article_versions_article_id'), ['article_id'], unique=False)

    op.create_table('minhash_bands',
    sa.Column('key', sa.BigInteger(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['articles.id'], name=op.f('fk_minhash_bands_article_id_articles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', 'article_id', name=op.f('pk_minhash_bands'))
    )
    with op.batch_alter_table('minhash_bands', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_minhash_bands_article_id'), ['article_id'], unique=False)

    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('page_title', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_similarity', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('minhash', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('shingle_count', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('story_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('baseline_similarity', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('baseline_adds', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('concept_vector', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('etag', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('last_modified', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('checks', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_articles_baseline_similarity'), ['baseline_similarity'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_duplicate_of'), ['duplicate_of'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_next_check_at'), ['next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_articles_story_id'), ['story_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_articles_story_id_stories'), 'stories', ['story_id'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_articles_duplicate_of_articles'), 'articles', ['duplicate_of'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_articles_duplicate_of_articles'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_articles_story_id_stories'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_articles_story_id'))
        batch_op.drop_index(batch_op.f('ix_articles_next_check_at'))
        batch_op.drop_index(batch_op.f('ix_articles_duplicate_of'))
        batch_op.drop_index(batch_op.f('ix_articles_baseline_similarity'))
        batch_op.drop_column('next_check_at')
        batch_op.drop_column('checked_at')
        batch_op.drop_column('checks')
        batch_op.drop_column('last_modified')
        batch_op.drop_column('etag')
        batch_op.drop_column('concept_vector')
        batch_op.drop_column('baseline_adds')
        batch_op.drop_column('baseline_similarity')
        batch_op.drop_column('story_id')
        batch_op.drop_column('shingle_count')
        batch_op.drop_column('minhash')
        batch_op.drop_column('duplicate_reason')
        batch_op.drop_column('duplicate_similarity')
        batch_op.drop_column('duplicate_of')
        batch_op.drop_column('page_title')

    with op.batch_alter_table('minhash_bands', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_minhash_bands_article_id'))

    op.drop_table('minhash_bands')
    with op.batch_alter_table('article_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_versions_article_id'))

    op.drop_table('article_versions')
    with op.batch_alter_table('article_concepts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_article_concepts_is_topic'))
        batch_op.drop_index(batch_op.f('ix_article_concepts_concept'))

    op.drop_table('article_concepts')
    with op.batch_alter_table('stories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stories_last_seen_at'))
        batch_op.drop_index(batch_op.f('ix_stories_first_seen_at'))

    op.drop_table('stories')
