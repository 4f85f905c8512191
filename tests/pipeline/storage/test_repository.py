"""The repository on SQLite and PostgreSQL: idempotent upserts, one transaction per poll."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from pipeline.dedup import fingerprint_text
from pipeline.errors import StorageError
from pipeline.models import ArticleDraft, ExtractedArticle, FeedConfig, FeedEntry, LanguageGuess
from pipeline.storage.engine import create_database_engine, migrate
from pipeline.storage.repository import PollRecord, Repository
from pipeline.storage.schema import Article, Entry, Feed, Poll

NOW = datetime(2025, 8, 16, 12, 0, tzinfo=timezone.utc)
FEEDS = (FeedConfig("wire", "http://wire.test/feed", "Wire", "en"),
         FeedConfig("echo", "http://echo.test/feed", "Echo", "en"))
BODY = ("Leaders met in Anchorage for talks that ended without a ceasefire. Officials said "
        "a further meeting with Ukraine's president was planned in Washington next week. "
        "European governments asked for security guarantees before any territorial talks.")


@pytest.fixture
def repository(database_url):
    engine = create_database_engine(database_url)
    migrate(engine)
    yield Repository(engine)
    engine.dispose()


def draft(n: int, *, text: str | None = None, canonical: str | None = None) -> ArticleDraft:
    url = f"http://wire.test/story-{n}"
    body = text if text is not None else f"Story {n}. {BODY}"
    return ArticleDraft(
        entry=FeedEntry(guid=f"guid-{n}", link=url + "?cmp=rss", url=url, title=f"Story {n}"),
        url=url, canonical_url=canonical or url,
        extracted=ExtractedArticle(text=body, source="page", title=f"Story {n}",
                                   published_at=NOW - timedelta(hours=n)),
        language=LanguageGuess("en", 1.0, "text"),
        fingerprint=fingerprint_text(body, from_page=True))


def poll(feed_id: int, status: str = "ok", **fields) -> PollRecord:
    return PollRecord(feed_id=feed_id, started_at=NOW, finished_at=NOW + timedelta(seconds=2),
                      status=status, next_poll_at=NOW + timedelta(minutes=15),
                      failures=fields.pop("failures", 0), **fields)


def count(repository: Repository, model) -> int:
    with repository.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(model)).scalar_one()


def test_sync_feeds_keeps_polling_state(repository):
    states = repository.sync_feeds(FEEDS, NOW)
    repository.store_poll(poll(states["wire"].id, etag='"v1"'))
    changed = (FeedConfig("wire", "http://wire.test/feed2", "Wire Agency", "en"),)
    again = repository.sync_feeds(changed, NOW)
    assert again["wire"].id == states["wire"].id and again["wire"].etag == '"v1"'
    with repository.engine.connect() as connection:
        assert connection.execute(select(Feed.url, Feed.outlet).where(Feed.name == "wire")).one() == (
            "http://wire.test/feed2", "Wire Agency")


def test_storing_the_same_poll_twice_adds_nothing(repository):
    feed = repository.sync_feeds(FEEDS, NOW)["wire"]
    drafts = [draft(1), draft(2), draft(3)]
    first = repository.store_poll(poll(feed.id, entries=3), drafts, outlet="Wire")
    second = repository.store_poll(poll(feed.id, entries=3), drafts, outlet="Wire")
    assert (first.new, first.duplicates) == (3, 0)
    assert (second.new, second.duplicates) == (0, 3)
    assert count(repository, Article) == 3 and count(repository, Entry) == 3
    assert count(repository, Poll) == 2  # the audit records both polls


def test_same_article_in_two_feeds_is_one_article_with_two_entries(repository):
    states = repository.sync_feeds(FEEDS, NOW)
    repository.store_poll(poll(states["wire"].id), [draft(1)], outlet="Wire")
    copy = draft(1)
    counts = repository.store_poll(poll(states["echo"].id), [copy], outlet="Echo")
    assert (counts.new, counts.duplicates) == (0, 1)
    assert count(repository, Article) == 1 and count(repository, Entry) == 2


def test_identical_text_at_another_url_is_the_same_article(repository):
    feed = repository.sync_feeds(FEEDS, NOW)["wire"]
    original, mirror = draft(1, text=BODY), draft(2, text=BODY)
    counts = repository.store_poll(poll(feed.id), [original, mirror], outlet="Wire")
    assert (counts.new, counts.duplicates) == (1, 1)
    with repository.engine.connect() as connection:
        article_ids = connection.execute(select(Entry.article_id)).scalars().all()
    assert len(set(article_ids)) == 1 and len(article_ids) == 2


def test_two_urls_with_one_canonical_are_one_article(repository):
    feed = repository.sync_feeds(FEEDS, NOW)["wire"]
    amp = draft(2, text=f"AMP. {BODY}", canonical="http://wire.test/story-1")
    counts = repository.store_poll(poll(feed.id), [draft(1), amp], outlet="Wire")
    assert (counts.new, counts.duplicates) == (1, 1) and count(repository, Article) == 1


def test_a_failure_inside_the_transaction_leaves_nothing_half_written(repository, monkeypatch):
    feed = repository.sync_feeds(FEEDS, NOW)["wire"]

    def crash(*args, **kwargs):
        raise StorageError("disk full (simulated)")

    monkeypatch.setattr(Repository, "_record_poll", crash)  # after articles and entries
    with pytest.raises(StorageError):
        repository.store_poll(poll(feed.id, etag='"new"'), [draft(1), draft(2)], outlet="Wire")
    assert count(repository, Article) == 0 and count(repository, Entry) == 0
    assert repository.feed_states(["wire"])["wire"].etag is None  # the next poll refetches
    monkeypatch.undo()
    counts = repository.store_poll(poll(feed.id, etag='"new"'), [draft(1), draft(2)], outlet="Wire")
    assert counts.new == 2 and count(repository, Article) == 2


def test_failures_count_up_and_success_resets_them(repository):
    feed = repository.sync_feeds(FEEDS, NOW)["wire"]
    repository.store_poll(poll(feed.id, etag='"v1"'))
    repository.store_poll(poll(feed.id, "error", error="HTTP 503", failures=1))
    repository.store_poll(poll(feed.id, "error", error="HTTP 503", failures=2))
    state = repository.feed_states(["wire"])["wire"]
    assert state.consecutive_failures == 2 and state.etag == '"v1"'  # validators survive failures
    repository.store_poll(poll(feed.id, "not_modified", http_status=304))
    assert repository.feed_states(["wire"])["wire"].consecutive_failures == 0


def test_known_entries(repository):
    states = repository.sync_feeds(FEEDS, NOW)
    repository.store_poll(poll(states["wire"].id), [draft(1)], outlet="Wire")
    entries = [draft(1).entry, draft(2).entry]
    mine = repository.known_entries(states["wire"].id, entries)
    theirs = repository.known_entries(states["echo"].id, entries)
    assert mine.guids == {"guid-1"} and theirs.guids == frozenset()
    assert set(theirs.article_by_url) >= {"http://wire.test/story-1"}
    assert "http://wire.test/story-2" not in theirs.article_by_url


def test_concurrent_workers_store_each_article_once(repository, database_url):
    """Two processes' worth of engines storing overlapping polls at the same time."""
    states = repository.sync_feeds(FEEDS, NOW)
    batches = {"wire": [draft(n) for n in range(0, 40)], "echo": [draft(n) for n in range(20, 60)]}
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        engine = create_database_engine(database_url)
        try:
            barrier.wait()
            Repository(engine).store_poll(poll(states[name].id), batches[name], outlet=name)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(name,)) for name in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert count(repository, Article) == 60 and count(repository, Entry) == 80


def test_baseline_loads_once(repository):
    from pipeline.seeds import load_baseline
    from tests.conftest import ROOT

    baseline = load_baseline(ROOT / "seeds" / "baseline")
    fingerprint = fingerprint_text(baseline.text, from_page=False)
    first = repository.load_baseline(baseline, fingerprint.text_sha256, fingerprint.word_count, NOW)
    second = repository.load_baseline(baseline, fingerprint.text_sha256, fingerprint.word_count, NOW)
    assert first[1] is True and second == (first[0], False)
    with repository.engine.connect() as connection:
        row = connection.execute(select(Article).where(Article.is_baseline)).one()
    assert (row.outlet, row.language, row.translated_from) == ("CBC", "de", "en")
    assert row.published_at == datetime(2025, 8, 16, tzinfo=timezone.utc)
    assert row.text == (ROOT / "seeds/baseline/000_d1681fc0ff286875.txt").read_text(encoding="utf-8")
    assert row.title == row.text.splitlines()[0]
