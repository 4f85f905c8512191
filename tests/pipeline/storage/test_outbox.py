"""The outbox's own rules, on SQLite and PostgreSQL: one alert per rule and story however
often a poll is stored, digests by window and never for the alert's own poll, merged
stories alerting once, digests waiting for their alert."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, insert, select

from pipeline.alerts import Rule
from pipeline.storage.engine import create_database_engine, migrate
from pipeline.storage.outbox import (CLAIM_TIMEOUT, Labelled, claim, due_alerts, queue_alerts, record_attempt,
                                     repoint_alerts)
from pipeline.storage.schema import Alert, Article, ArticleConcept, Story

T0 = datetime(2025, 8, 16, 12, 0, tzinfo=timezone.utc)
RULE = Rule(id="summit", name="Summit", all_topics=("summit",), min_baseline_similarity=0.45)


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url)
    migrate(engine)
    with engine.begin() as connection:
        for n in (1, 2):
            connection.execute(insert(Story).values(
                id=n, title=f"story {n}", first_seen_at=T0, last_seen_at=T0, article_count=1, outlets=[],
                languages=[]))
    yield engine
    engine.dispose()


NEXT_ID = iter(range(1, 10_000))


def labelled(story: int, similarity: float = 0.7, topics=("summit",)) -> tuple:
    return story, similarity, topics


def queue(engine, *articles: tuple, at: datetime = T0) -> None:
    """Store the articles (each an original of its story, with its topics) and queue what they call for."""
    stored = []
    with engine.begin() as connection:
        for story, similarity, topics in articles:
            article_id = next(NEXT_ID)
            connection.execute(insert(Article).values(
                id=article_id, outlet="CBC", url=f"https://x.test/{article_id}", canonical_url=f"https://x.test/{article_id}",
                title=f"article {article_id}", first_seen_at=at, event_time=at, language="en",
                language_confidence=1.0, language_source="text", word_count=10, text="t", text_sha256="0" * 64,
                text_source="feed", is_baseline=False, version=1, story_id=story, baseline_similarity=similarity))
            for topic in topics:
                connection.execute(insert(ArticleConcept).values(article_id=article_id, concept=topic, kind="topic",
                                                                 hits=1, terms=[topic], is_topic=True))
            stored.append(Labelled(article_id, story, "en", "CBC", topics, (), similarity))
        queue_alerts(connection, stored, [RULE], at, 3600)


def alerts(engine) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(
            select(Alert.story_id, Alert.sequence, Alert.state).order_by(Alert.story_id, Alert.sequence))]


def test_one_alert_per_story_however_often_the_poll_is_stored(engine):
    queue(engine, labelled(1), labelled(1))  # two articles of one story in one poll
    queue(engine, labelled(1))  # the same poll stored again (a retried task)
    assert alerts(engine) == [(1, 0, "pending")]


def test_articles_that_do_not_match_alert_nothing(engine):
    queue(engine, labelled(1, similarity=0.3), labelled(2, topics=("ukraine-war",)))
    assert alerts(engine) == []


def test_later_coverage_goes_into_one_digest_per_window(engine):
    queue(engine, labelled(1))
    queue(engine, labelled(1), at=T0 + timedelta(minutes=5))
    queue(engine, labelled(1, similarity=0.1), at=T0 + timedelta(minutes=50))  # any article of the story
    queue(engine, labelled(1), at=T0 + timedelta(minutes=70))
    assert alerts(engine) == [(1, 0, "pending"), (1, 1, "pending"), (1, 2, "pending")]
    with engine.connect() as connection:
        due = dict(connection.execute(select(Alert.sequence, Alert.not_before)).all())
    assert due == {0: T0, 1: T0 + timedelta(hours=1), 2: T0 + timedelta(hours=2)}


def test_a_digest_waits_for_its_alert_to_go_out(engine):
    queue(engine, labelled(1))
    queue(engine, labelled(1), at=T0 + timedelta(minutes=5))
    later = T0 + timedelta(hours=2)
    assert [a["sequence"] for a in due_alerts(engine, later)] == [0]
    first = due_alerts(engine, later)[0]
    record_attempt(engine, first["id"], later, ok=False, error="HTTP 500", state="pending",
                   next_attempt=later + timedelta(minutes=1))
    assert due_alerts(engine, later) == []  # the alert is waiting to retry: so is its digest
    record_attempt(engine, first["id"], later, ok=True, error=None, state="sent")
    assert [a["sequence"] for a in due_alerts(engine, later)] == [1]


def test_stories_that_prove_to_be_one_alert_once(engine):
    queue(engine, labelled(1), labelled(2))
    with engine.begin() as connection:
        repoint_alerts(connection, keep=1, gone=2)
    assert alerts(engine) == [(1, 0, "pending"), (2, 0, "merged")]
    assert [a["story_id"] for a in due_alerts(engine, T0)] == [1]


def test_a_merged_story_alerted_only_on_the_younger_side_moves_its_alert(engine):
    queue(engine, labelled(2))
    with engine.begin() as connection:
        repoint_alerts(connection, keep=1, gone=2)
    assert alerts(engine) == [(1, 0, "pending")]
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Alert)).scalar() == 1


def test_a_settling_deliverer_leaves_fresh_news_for_the_polls_own_run(engine):
    queue(engine, labelled(1))
    queue(engine, labelled(2), at=T0 + timedelta(minutes=15))
    settled = timedelta(minutes=20)
    assert [a["story_id"] for a in due_alerts(engine, T0 + timedelta(minutes=25), settled=settled)] == [1]
    assert [a["story_id"] for a in due_alerts(engine, T0 + timedelta(minutes=35), settled=settled)] == [1, 2]


def test_a_claim_is_dated_when_it_is_made_and_taken_only_when_due_and_unchanged(engine):
    queue(engine, labelled(1))
    [alert] = due_alerts(engine, T0)
    late = T0 + CLAIM_TIMEOUT + timedelta(minutes=5)  # a deliverer whose earlier sends were slow
    assert claim(engine, alert["id"], late, attempts=alert["attempts"]) is True
    with engine.connect() as connection:
        assert connection.execute(select(Alert.claimed_at)).scalar_one() == late
    assert claim(engine, alert["id"], late + timedelta(minutes=1)) is False  # fresh: taken
    record_attempt(engine, alert["id"], late, ok=False, error="HTTP 500", state="pending",
                   next_attempt=late + timedelta(minutes=1))
    assert claim(engine, alert["id"], late) is False  # waiting for its retry
    # Another deliverer read the row before that attempt: its copy is stale, so it stays out.
    assert claim(engine, alert["id"], late + timedelta(minutes=2), attempts=alert["attempts"]) is False
    assert claim(engine, alert["id"], late + timedelta(minutes=2), attempts=alert["attempts"] + 1) is True
