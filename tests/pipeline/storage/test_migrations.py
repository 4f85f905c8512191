"""Migrations keep what is stored: a database from the first release upgrades with its rows."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from pipeline.storage.engine import alembic_config, create_database_engine, current_revision, migrate
from pipeline.storage.search import search_articles


def test_an_old_database_upgrades_with_its_articles(database_url):
    engine = create_database_engine(database_url)
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as connection:
        connection.execute(text(
            "insert into feeds (name, url, outlet, enabled, interval_seconds, consecutive_failures, created_at) "
            "values ('cbc-world', 'https://www.cbc.ca/webfeed/rss/rss-world', 'CBC', true, 900, 0, "
            "'2025-08-16 00:00:00')"))
        connection.execute(text(
            "insert into articles (feed_id, outlet, url, canonical_url, title, first_seen_at, language, "
            "language_confidence, language_source, word_count, text, text_sha256, text_source, is_baseline, "
            "version) values (1, 'CBC', 'https://cbc.test/a', 'https://cbc.test/a', 'A', '2025-08-16 00:00:00', "
            "'en', 1.0, 'text', 2, 'Two words', 'abc', 'page', false, 1)"))
    assert migrate(engine) == current_revision(engine)
    with engine.connect() as connection:
        row = connection.execute(text("select title, checks, version, story_id from articles")).one()
    assert tuple(row) == ("A", 0, 1, None)
    assert [hit.title for hit in search_articles(engine, "two words").hits] == ["A"]  # indexed by 0005
    tables = set(inspect(engine).get_table_names())
    assert {"stories", "minhash_bands", "article_concepts", "article_versions", "host_slots", "alerts",
            "alert_attempts", "article_search"} <= tables
    command.downgrade(alembic_config(engine), "0001")  # and back, without losing the article
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from articles")).scalar() == 1
    engine.dispose()
