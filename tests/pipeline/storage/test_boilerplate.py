"""The boilerplate memory on SQLite and PostgreSQL: distinct articles counted once, and the
articles stored before a paragraph became boilerplate cleaned when it does."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from pipeline.boilerplate import EXAMPLE_CHARS, MIN_ARTICLES, RECENT, paragraph_examples, split_paragraphs
from pipeline.dedup import fingerprint_text
from pipeline.models import ArticleDraft, ExtractedArticle, FeedConfig, FeedEntry, LanguageGuess
from pipeline.storage.boilerplate import forget_paragraphs, recall_memory
from pipeline.storage.engine import create_database_engine, migrate
from pipeline.storage.repository import PollRecord, Repository
from pipeline.storage.schema import Article, OutletParagraph
from pipeline.storage.search import SearchFilter, search_articles

NOW = datetime(2025, 8, 16, 12, 0, tzinfo=timezone.utc)
FEEDS = (FeedConfig("courier", "http://courier.test/feed", "Courier", "en"),
         FeedConfig("gazette", "http://gazette.test/feed", "Gazette", "en"))
LETTER = "Subscribe to the evening letter of the Quayside Courier and get the day's news at six."
FOOTER = "Comments (3)"


SUBJECTS = ("ferry timetable", "fish market", "lighthouse repairs", "harbour wall", "tram line", "school roof",
            "swing bridge", "library hours")


def body(n: int) -> str:
    """An article's own paragraph (its subject in words: paragraphs that differ only in
    their figures are one paragraph to the memory)."""
    return (f"The council met on the quay to discuss the {SUBJECTS[n]}. Members argued for an hour "
            f"about the {SUBJECTS[n]} and agreed to meet again in the autumn.")


def draft(n: int, text: str, site: str = "courier") -> ArticleDraft:
    url = f"http://{site}.test/story-{n}"
    return ArticleDraft(
        entry=FeedEntry(guid=f"{site}-{n}", link=url, url=url, title=f"Story {n}"), url=url, canonical_url=url,
        extracted=ExtractedArticle(text=text, source="page", title=f"Story {n}", published_at=NOW),
        language=LanguageGuess("en", 1.0, "text"), fingerprint=fingerprint_text(text, from_page=True),
        paragraphs=paragraph_examples(split_paragraphs(text)))


def with_boilerplate(n: int, site: str = "courier", footer: str = FOOTER) -> ArticleDraft:
    return draft(n, f"{body(n)}\n{LETTER}\n{footer}", site)


@pytest.fixture
def repository(database_url):
    engine = create_database_engine(database_url)
    migrate(engine)
    repository = Repository(engine)
    repository.states = repository.sync_feeds(FEEDS, NOW)
    yield repository
    engine.dispose()


def store(repository: Repository, drafts: list[ArticleDraft], at: datetime = NOW, site: str = "courier",
          **options) -> None:
    record = PollRecord(feed_id=repository.states[site].id, started_at=at, finished_at=at, status="ok",
                        next_poll_at=at + timedelta(minutes=15), failures=0)
    repository.store_poll(record, drafts, outlet=site.title(), **options)


def texts(repository: Repository) -> dict[str, str]:
    with repository.engine.connect() as connection:
        return dict(connection.execute(select(Article.canonical_url, Article.text)).all())


def counts(repository: Repository, outlet: str = "Courier") -> dict[str, int]:
    with repository.engine.connect() as connection:
        return dict(connection.execute(select(OutletParagraph.example, OutletParagraph.articles)
                                       .where(OutletParagraph.outlet == outlet)).all())


def letter_hits(repository: Repository, outlet: str = "Courier") -> int:
    return search_articles(repository.engine, '"evening letter"', SearchFilter(outlet=outlet)).total


def test_each_new_article_counts_once_and_a_retry_adds_nothing(repository):
    drafts = [with_boilerplate(1), draft(2, f"{body(2)}\n{FOOTER}\n{FOOTER}")]
    store(repository, drafts)
    store(repository, drafts)  # the same poll again: no new article
    assert counts(repository) == {body(1)[:EXAMPLE_CHARS]: 1, body(2)[:EXAMPLE_CHARS]: 1, LETTER: 1, FOOTER: 2}
    assert counts(repository, "Gazette") == {}


def test_the_article_that_makes_a_paragraph_boilerplate_cleans_the_earlier_ones(repository):
    store(repository, [with_boilerplate(7, "gazette")], site="gazette")  # another outlet, the same paragraphs
    for n in range(1, MIN_ARTICLES):
        store(repository, [with_boilerplate(n)], NOW + timedelta(minutes=n))
    assert letter_hits(repository) == MIN_ARTICLES - 1  # not yet boilerplate
    store(repository, [with_boilerplate(MIN_ARTICLES)], NOW + timedelta(hours=1))
    stored = texts(repository)
    for n in range(1, MIN_ARTICLES + 1):
        assert stored[f"http://courier.test/story-{n}"] == body(n)
    assert stored["http://gazette.test/story-7"] == f"{body(7)}\n{LETTER}\n{FOOTER}"
    assert letter_hits(repository) == 0 and letter_hits(repository, "Gazette") == 1
    with repository.engine.connect() as connection:
        row = connection.execute(select(Article).where(Article.canonical_url == "http://courier.test/story-1")).one()
    fingerprint = fingerprint_text(body(1), from_page=True)
    assert (row.text_sha256, row.word_count, row.dedup_key) == (fingerprint.text_sha256, fingerprint.word_count,
                                                                fingerprint.dedup_key)


def test_a_draft_cleaned_with_an_older_memory_is_cleaned_when_stored(repository):
    store(repository, [with_boilerplate(n) for n in range(1, MIN_ARTICLES + 1)])
    # Another worker's poll read the memory before these were stored: its draft kept the boilerplate.
    store(repository, [with_boilerplate(MIN_ARTICLES + 1)], NOW + timedelta(minutes=5))
    assert texts(repository)[f"http://courier.test/story-{MIN_ARTICLES + 1}"] == body(MIN_ARTICLES + 1)
    assert letter_hits(repository) == 0


def test_the_memory_recalled_is_the_outlets_and_recent(repository):
    store(repository, [with_boilerplate(n) for n in range(1, 3)])
    fingerprints = [fp for fp, _ in with_boilerplate(1).paragraphs]
    recalled = recall_memory(repository.engine, "Courier", fingerprints, now=NOW, min_articles=MIN_ARTICLES)
    assert sorted(recalled.articles.values()) == [1, 2, 2]  # the body, the letter and the footer
    assert recall_memory(repository.engine, "Gazette", fingerprints, now=NOW, min_articles=MIN_ARTICLES).articles == {}
    later = NOW + RECENT + timedelta(days=1)
    assert recall_memory(repository.engine, "Courier", fingerprints, now=later,
                         min_articles=MIN_ARTICLES).articles == {}
    assert recall_memory(repository.engine, "Courier", fingerprints, now=NOW, min_articles=0).articles == {}


def test_a_paragraph_unseen_for_longer_than_recent_counts_again(repository):
    store(repository, [with_boilerplate(n) for n in range(1, MIN_ARTICLES)])
    store(repository, [with_boilerplate(MIN_ARTICLES)], NOW + RECENT + timedelta(days=1))
    assert counts(repository)[LETTER] == 1
    assert letter_hits(repository) == MIN_ARTICLES


def test_articles_cleaned_to_one_text_keep_one_exact_duplicate_key(repository):
    twins = [draft(1, f"{body(1)}\n{LETTER}\nComments (3)"), draft(2, f"{body(1)}\n{LETTER}\nComments (5)")]
    store(repository, twins)  # one text but for the counter: two articles
    store(repository, [with_boilerplate(n) for n in range(3, MIN_ARTICLES + 1)], NOW + timedelta(minutes=5))
    with repository.engine.connect() as connection:
        rows = connection.execute(select(Article.text, Article.dedup_key).where(
            Article.canonical_url.in_(["http://courier.test/story-1", "http://courier.test/story-2"]))).all()
    assert [text for text, _ in rows] == [body(1), body(1)]
    assert sorted(key is None for _, key in rows) == [False, True]


def test_memory_off_counts_and_cleans_nothing(repository):
    store(repository, [with_boilerplate(n) for n in range(1, MIN_ARTICLES + 2)], boilerplate_articles=0)
    assert counts(repository) == {} and letter_hits(repository) == MIN_ARTICLES + 1


def test_maintenance_forgets_paragraphs_not_seen_recently(repository):
    store(repository, [with_boilerplate(1)])
    store(repository, [with_boilerplate(2, footer="Comments (9) and more")], NOW + timedelta(days=20))
    assert forget_paragraphs(repository.engine, NOW + timedelta(days=10)) == 2  # story 1's own, its footer
    assert set(counts(repository)) == {LETTER, "Comments (9) and more", body(2)[:EXAMPLE_CHARS]}
