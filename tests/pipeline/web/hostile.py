"""A hostile corner of the article database: every field a page shows holds markup or a
script URL, as a malicious feed or page could make them. Written through the storage
layer's tables (and its search index), so each page meets it as it would meet real data.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Engine, insert

from pipeline.storage.schema import (
    Alert,
    AlertAttempt,
    Article,
    ArticleConcept,
    ArticleVersion,
    Feed,
    Poll,
    Story,
)
from pipeline.storage.search import index_articles

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
BREAKOUT = '"><svg onload=alert(1)>'
JS_URL = "javascript:alert(1)"
PAYLOADS = (SCRIPT, IMG, BREAKOUT, JS_URL)
TITLE = f"Hostile {SCRIPT}{IMG} zanzibarquokka"  # an unusual word, to find it by search
OUTLET = f"{IMG}Evil Outlet"


def insert_hostile(engine: Engine) -> dict[str, int]:
    """The hostile feed, story, article (two versions), its copy, concepts, poll and alert;
    returns their ids."""
    now = datetime.now(timezone.utc)
    published = datetime(2025, 8, 20, 12, 0, tzinfo=timezone.utc)
    with engine.begin() as connection:
        feed = connection.execute(insert(Feed).values(
            name=f"hostile-{SCRIPT}", url=JS_URL, outlet=OUTLET, language="en", enabled=True,
            interval_seconds=900, last_status="error", last_error=BREAKOUT, consecutive_failures=1,
            last_polled_at=now, created_at=now, health="failing", health_note=SCRIPT)
            .returning(Feed.id)).scalar_one()
        connection.execute(insert(Poll).values(
            feed_id=feed, started_at=now, finished_at=now, duration_ms=5, status="error",
            http_status=500, error=f"{SCRIPT} {IMG}"))
        story = connection.execute(insert(Story).values(
            title=f"{SCRIPT} story {BREAKOUT}", first_seen_at=now, last_seen_at=now, article_count=1,
            outlets=[OUTLET], languages=["en"]).returning(Story.id)).scalar_one()
        article = connection.execute(insert(Article).values(_article(
            feed, story, published, now, title=TITLE, author=BREAKOUT, url=JS_URL,
            canonical_url=f"{JS_URL}//hostile", text_sha256="0" * 64, version=2,
            text=f"Zanzibarquokka {SCRIPT}\n\n<a href=\"{JS_URL}\">click</a> {BREAKOUT}\n\nThe end.",
            baseline_similarity=0.5, baseline_adds=["<b onmouseover=alert(1)>adds</b>"],
            fetch_error=f"<iframe src={JS_URL}>", duplicate_reason=None)).returning(Article.id)).scalar_one()
        copy = connection.execute(insert(Article).values(_article(
            feed, story, published, now, title=f"Copy {BREAKOUT}", author=None,
            url=f"data:text/html,{SCRIPT}", canonical_url="data:hostile-copy", text_sha256="1" * 64,
            version=1, text=f"A copy {IMG}", duplicate_of=article, duplicate_similarity=0.9,
            duplicate_reason=f"near-duplicate of {article}, {IMG}")).returning(Article.id)).scalar_one()
        connection.execute(insert(ArticleConcept).values([
            dict(article_id=article, concept="summit", kind="topic", hits=1, terms=[SCRIPT], is_topic=True),
            dict(article_id=article, concept=f"x{IMG}"[:80], kind="entity", hits=2, terms=[JS_URL],
                 is_topic=False)]))
        connection.execute(insert(ArticleVersion).values(
            article_id=article, version=1, title=f"Old {IMG}", text=f"Zanzibarquokka {SCRIPT}\n\nOld {BREAKOUT}",
            text_sha256="2" * 64, replaced_at=now,
            changes={"title_before": f"Old {IMG}", "title_after": TITLE, "added": [BREAKOUT], "removed": [IMG]}))
        alert = connection.execute(insert(Alert).values(
            rule=f"rule-{SCRIPT}"[:80], story_id=story, sequence=0, article_id=article,
            terms={f"topic{IMG}": [SCRIPT]}, idempotency_key="hostile-alert", created_at=now, not_before=now,
            state="failed", attempts=1, next_attempt_at=now, last_error=BREAKOUT,
            delivered_to=[JS_URL]).returning(Alert.id)).scalar_one()
        connection.execute(insert(AlertAttempt).values(alert_id=alert, attempted_at=now, ok=False,
                                                       error=f"{IMG} {SCRIPT}"))
        index_articles(connection, [article, copy])
    return {"feed": feed, "story": story, "article": article, "copy": copy, "alert": alert}


def _article(feed: int, story: int, published: datetime, now: datetime, **fields) -> dict:
    return dict(feed_id=feed, outlet=OUTLET, guid=None, published_at=published, first_seen_at=now,
                language="en", language_confidence=0.99, language_source="detected", word_count=12,
                text_source="page", is_baseline=False, story_id=story, checks=0, **fields)
