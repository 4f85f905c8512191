"""Re-checks: recent articles are fetched again, conditionally, to catch new versions.

Each feed's poll looks at any article its feed now lists under a new address, at the
articles whose entries the feed changed (another title, summary or update mark: the feed
says the article changed, however old it is), and at its articles that are due (the
schedule of ``pipeline.versions``) — the last two bounded per poll together.
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
    sign_entries,
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
                     now: datetime, budget: Budget | None = None,
                     signalled: Sequence[tuple[FeedEntry, int]] = (),
                     unsigned: Sequence[FeedEntry] = ()) -> RecheckCounts:
    """Look again at entries that moved, at entries the feed says changed (``signalled``),
    then at this feed's due articles, at most ``NEWSWATCH_RECHECKS_PER_POLL`` of them
    while the poll's budget lasts (the rest stay due); count what changed. A signalled
    entry's new signature is remembered once its article was looked at, so a feed that
    goes on saying the same costs no further fetch; ``unsigned`` entries (stored before
    signatures were kept) just have theirs remembered."""
    for entry, _ in moved:
        move_entry(engine, feed_id, entry)
    targets = _targets(engine, feed_id, moved, signalled, now, settings.rechecks_per_poll)
    checked: set[int] = set()
    changed = failed = 0
    for target in targets:
        if budget is not None and budget.is_spent():
            break
        try:
            outcome = _recheck(target, feed, settings=settings, fetcher=fetcher, engine=engine,
                               labeller=labeller, now=now, budget=budget)
        except BudgetSpentError:
            break
        checked.add(target.id)
        changed += outcome == "changed"
        failed += outcome == "failed"
    sign_entries(engine, feed_id, [*unsigned, *(entry for entry, article_id in signalled if article_id in checked)])
    if checked:
        log.info("feed=%s rechecked=%d new_versions=%d failed=%d signalled=%d", feed.name, len(checked),
                 changed, failed, len(signalled))
    return RecheckCounts(len(checked), changed, failed)


def _targets(engine, feed_id: int, moved: Sequence[tuple[FeedEntry, int]],
             signalled: Sequence[tuple[FeedEntry, int]], now: datetime, limit: int) -> list[CheckTarget]:
    """Moved entries first (at their new address: nothing to be conditional about), then
    the articles the feed says changed, then the most overdue; each article once."""
    urls = {article_id: entry.url for entry, article_id in moved}
    targets = {t.id: dataclasses.replace(t, url=urls[t.id], etag=None, last_modified=None)
               for t in check_targets(engine, list(urls))}
    wanted = list(dict.fromkeys(article_id for _, article_id in signalled if article_id not in targets))
    for target in check_targets(engine, wanted[:limit]):
        targets.setdefault(target.id, target)
    for target in due_checks(engine, feed_id, now, max(0, limit - len(wanted))):
        targets.setdefault(target.id, target)
    return list(targets.values())


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
