"""Stories in the database: the inputs of ``pipeline.stories`` loaded in bulk, its plan written.

For a poll's new articles, the articles that could link to them are those whose event
time lies within ``WINDOW`` of theirs (one indexed range on ``articles.event_time``),
loaded once with their vectors; the plan joins, starts and merges stories, and each story
touched gets its figures again from its articles: first and last appearance, how many
originals, outlets, languages, and its title — the earliest original's. Runs inside the
poll's transaction, under the labelling's lock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from pipeline import embedding
from pipeline.stories import WINDOW, EventPoint, Node, StoryPlan, plan_stories
from pipeline.storage.schema import Article, Story


def assign_stories(connection: Connection, new: Sequence[EventPoint], ties: Mapping[int, int],
                   on_merge: Callable[[int, int], None]) -> None:
    """Give every new article its story (``ties``: article -> an article of its near-duplicate
    group, which must share its story), merging stories an article proves to be one."""
    if not new:
        return
    new_ids = {p.article_id for p in new}
    stored = stored_points(connection, [p.when for p in new], new_ids)
    tied = _stories_of(connection, {other for other in ties.values() if other not in new_ids})
    nodes: dict[int, Node] = {}
    for article, other in ties.items():
        if other in new_ids:
            nodes[article] = ("article", other)
        elif (story := tied.get(other)) is not None:
            nodes[article] = ("story", story)
    involved = ({p.story_id for p in stored if p.story_id is not None}
                | {key for kind, key in nodes.values() if kind == "story"})
    plan = plan_stories(new, stored, _first_seen(connection, involved), nodes)
    touched = _write_plan(connection, plan, {p.article_id: p.when for p in new}, on_merge)
    refresh_stories(connection, touched)


def stored_points(connection: Connection, times: Iterable[datetime], exclude: set[int]) -> list[EventPoint]:
    """Stored articles in a story whose event time lies within WINDOW of ``times``."""
    times = list(times)
    rows = connection.execute(select(Article.id, Article.event_time, Article.event_vector, Article.story_id,
                                     Article.language).where(
        Article.event_time.between(min(times) - WINDOW, max(times) + WINDOW),
        Article.story_id.is_not(None), Article.event_vector.is_not(None), Article.is_baseline.is_(False))).all()
    return [EventPoint(row.id, row.event_time, embedding.from_bytes(row.event_vector), row.story_id, row.language)
            for row in rows if row.id not in exclude]


def _stories_of(connection: Connection, ids: set[int]) -> dict[int, int | None]:
    if not ids:
        return {}
    return dict(connection.execute(select(Article.id, Article.story_id).where(Article.id.in_(ids))).all())


def _first_seen(connection: Connection, story_ids: set[int]) -> dict[int, datetime]:
    if not story_ids:
        return {}
    return dict(connection.execute(select(Story.id, Story.first_seen_at).where(Story.id.in_(story_ids))).all())


def _write_plan(connection: Connection, plan: StoryPlan, when: Mapping[int, datetime],
                on_merge: Callable[[int, int], None]) -> set[int]:
    touched = set(plan.joins.values())
    for keep, gone in plan.merges:
        connection.execute(update(Article).where(Article.story_id == gone).values(story_id=keep))
        on_merge(keep, gone)
        connection.execute(update(Story).where(Story.id == gone).values(merged_into=keep, article_count=0))
    for article, story in plan.joins.items():
        connection.execute(update(Article).where(Article.id == article).values(story_id=story))
    for members in plan.new_stories:  # figures filled in by refresh_stories
        first = min(when[m] for m in members)
        story = connection.execute(insert(Story).values(
            title="", first_seen_at=first, last_seen_at=first, article_count=0, outlets=[], languages=[])
            .returning(Story.id)).scalar_one()
        connection.execute(update(Article).where(Article.id.in_(members)).values(story_id=story))
        touched.add(story)
    return touched


def refresh_stories(connection: Connection, story_ids: set[int]) -> None:
    """A story's figures from its articles (the baseline is never one of them)."""
    if not story_ids:
        return
    rows = connection.execute(select(Article.story_id, Article.title, Article.event_time, Article.id,
                                     Article.outlet, Article.language, Article.duplicate_of)
                              .where(Article.story_id.in_(story_ids), Article.is_baseline.is_(False))).all()
    by_story: dict[int, list] = {}
    for row in rows:
        by_story.setdefault(row.story_id, []).append(row)
    for story_id, members in by_story.items():
        originals = [m for m in members if m.duplicate_of is None] or members
        first = min(originals, key=lambda m: (m.event_time, m.id))
        connection.execute(update(Story).where(Story.id == story_id).values(
            title=first.title, first_seen_at=min(m.event_time for m in members),
            last_seen_at=max(m.event_time for m in members),
            article_count=sum(1 for m in members if m.duplicate_of is None),
            outlets=sorted({m.outlet for m in members if m.outlet}),
            languages=sorted({m.language for m in members if m.language})))

