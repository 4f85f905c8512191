"""Re-checks: recent articles are fetched again, conditionally, to catch new versions.

Each feed's poll looks at a bounded number of its articles that are due (the schedule
of ``pipeline.versions``), and at any article its feed now lists under a new address.
A 304 or an unchanged page only moves the next check; a changed title or text becomes
a new version of the same article — never a new article, never a new story. The page is
cleaned of its outlet's boilerplate as the stored text was, so boilerplate alone is no
change.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pipeline.drafts import draft_from_reading, read_page
from pipeline.errors import BudgetSpentError, FetchError
from pipeline.fetch import Budget, Fetcher
from pipeline.labels import Labeller
from pipeline.models import FeedConfig, FeedEntry
from pipeline.settings import Settings
from pipeline.storage.boilerplate import recall_memory
from pipeline.storage.versions import (
    CheckTarget,
    check_targets,
    due_checks,
    move_entry,
    record_check,
    record_version,
)
from pipeline.versions import diff_versions, next_check_at

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecheckCounts:
    checked: int = 0
    changed: int = 0
    failed: int = 0


def recheck_articles(feed: FeedConfig, feed_id: int, moved: Sequence[tuple[FeedEntry, int]], *,
                     settings: Settings, fetcher: Fetcher, engine, labeller: Labeller,
                     now: datetime, budget: Budget | None = None) -> RecheckCounts:
    """Look again at this feed's due articles and at entries that moved, while the poll's
    budget lasts (the rest stay due); count what changed."""
    for entry, _ in moved:
        move_entry(engine, feed_id, entry.guid, entry.url, entry.link, entry.title)
    targets = {t.id: t for t in due_checks(engine, feed_id, now, settings.rechecks_per_poll)}
    moved_targets = check_targets(engine, [article_id for _, article_id in moved])
    urls = {article_id: entry.url for entry, article_id in moved}
    for target in moved_targets:  # a new address: nothing to be conditional about
        targets[target.id] = dataclasses.replace(target, url=urls[target.id], etag=None, last_modified=None)
    checked = changed = failed = 0
    for target in targets.values():
        if budget is not None and budget.is_spent():
            break
        try:
            outcome = _recheck(target, feed, settings=settings, fetcher=fetcher, engine=engine,
                               labeller=labeller, now=now, budget=budget)
        except BudgetSpentError:
            break
        checked += 1
        changed += outcome == "changed"
        failed += outcome == "failed"
    if checked:
        log.info("feed=%s rechecked=%d new_versions=%d failed=%d", feed.name, checked, changed, failed)
    return RecheckCounts(checked, changed, failed)


def _recheck(target: CheckTarget, feed: FeedConfig, *, settings: Settings, fetcher: Fetcher,
             engine, labeller: Labeller, now: datetime, budget: Budget | None = None) -> str:
    upcoming = next_check_at(target.first_seen_at, target.checks + 1, now,
                             first=settings.recheck_first, until=settings.recheck_until)
    try:
        page = fetcher.fetch_page(target.url, etag=target.etag, last_modified=target.last_modified,
                                  budget=budget)
    except FetchError as error:
        log.info("recheck url=%s failed: %s", target.url, error)
        record_check(engine, target.id, now, upcoming)
        return "failed"
    if page.not_modified:
        record_check(engine, target.id, now, upcoming, page.etag, page.last_modified)
        return "unchanged"
    reading = read_page(FeedEntry(guid=str(target.id), link=target.url, url=target.url), page, None)
    memory = recall_memory(engine, feed.outlet, sorted(reading.fingerprints), now=now,
                           min_articles=settings.boilerplate_articles)
    draft = draft_from_reading(reading, memory=memory, language_hint=feed.language, labeller=labeller)
    same_text = draft.fingerprint.text_sha256 == target.text_sha256
    same_title = (draft.extracted.page_title or "") == (target.page_title or "")
    if draft.fetch_error or draft.extracted.source != "page" or (same_text and same_title):
        record_check(engine, target.id, now, upcoming, page.etag, page.last_modified)
        return "unchanged"
    title_after = draft.extracted.page_title if not same_title else target.title
    change = diff_versions(target.title, target.text, title_after or target.title, draft.extracted.text)
    version = record_version(engine, target, draft, change, now, upcoming)
    log.info("feed=%s article=%d new version %d%s", feed.name, target.id, version,
             " (retitled)" if change.title_changed else "")
    return "changed"
