"""Drafts: a fetched page (or a failed fetch) becomes an article ready to store.

Composes the pure stages for one article, in two steps. ``read_page``: extraction, and
the page text's paragraphs with their fingerprints. ``draft_from_reading``: the
paragraphs the outlet's memory knows as boilerplate removed (``pipeline.boilerplate``),
then language, fingerprints (exact hash and MinHash signature) and labels (concepts,
topics, baseline similarity) of the cleaned text. A poll reads all its pages before it
drafts any, so that its own pages count in the memory too; a re-check drafts its page at
once. Nothing here touches the network or the database: the page comes in fetched, the
memory comes in as a value.

One page at a time per process: trafilatura's compiled XPath expressions (lxml) break
when two threads evaluate them at once ("XPathEvalError: unknown error"), and the
language and topic models were never meant to be shared either. Threads of one process
(``pipeline.concurrency``'s lanes) overlap their waiting, not this; processes use the cores.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

from pipeline.boilerplate import (
    OutletMemory,
    Paragraph,
    count_articles,
    paragraph_examples,
    remove_boilerplate,
    split_paragraphs,
)
from pipeline.dedup import article_fingerprints
from pipeline.errors import ExtractionError
from pipeline.extract import extract_article, summary_article
from pipeline.labels import Labeller
from pipeline.language import detect_language
from pipeline.models import ArticleDraft, ExtractedArticle, FeedEntry, FetchResult
from pipeline.urls import choose_canonical, clean_url

log = logging.getLogger(__name__)
_reading = threading.RLock()  # one page read or drafted at a time in a process (see above)
_Result = TypeVar("_Result")


def _one_at_a_time(function: Callable[..., _Result]) -> Callable[..., _Result]:
    @functools.wraps(function)
    def locked(*args, **kwargs) -> _Result:
        with _reading:
            return function(*args, **kwargs)
    return locked


@dataclass(frozen=True)
class PageReading:
    """What extraction made of one entry's page, before boilerplate is removed."""

    entry: FeedEntry
    fetched: bool  # a page came (not its body: a poll holds all its readings at once)
    url: str
    canonical_url: str
    extracted: ExtractedArticle
    fetch_error: str | None
    etag: str | None = None  # the page's validators, for re-checks, when it was read
    last_modified: str | None = None
    paragraphs: tuple[Paragraph, ...] = ()  # of text from the page; none for the feed's summary

    @property
    def fingerprints(self) -> frozenset[str]:
        return frozenset(p.fingerprint for p in self.paragraphs if p.fingerprint is not None)


@_one_at_a_time
def read_page(entry: FeedEntry, page: FetchResult | None, error: Exception | None) -> PageReading:
    """The article behind ``entry`` as extracted: from its page, or from the feed with the
    page's error."""
    page_url = entry.url
    extracted: ExtractedArticle | None = None
    if error is None and page is not None:
        try:
            page_url = clean_url(page.final_url)
            extracted = extract_article(page, entry)
        except (ExtractionError, ValueError) as failure:
            error = failure
    fetch_error = str(error) if error is not None else None
    if extracted is None:
        extracted = summary_article(entry, note=fetch_error or "no page")
    validated = page if fetch_error is None else None
    return PageReading(entry=entry, fetched=page is not None, url=page_url,
                       canonical_url=choose_canonical(page_url, extracted.canonical_url),
                       extracted=extracted, fetch_error=fetch_error,
                       etag=validated.etag if validated else None,
                       last_modified=validated.last_modified if validated else None,
                       paragraphs=split_paragraphs(extracted.text) if extracted.source == "page" else ())


def count_poll(readings: Iterable[PageReading]) -> dict[str, int]:
    """In how many of a poll's articles (one per canonical URL) each paragraph is."""
    by_article = {reading.canonical_url: reading.fingerprints for reading in readings}
    return count_articles(by_article.values())


@_one_at_a_time
def draft_from_reading(reading: PageReading, *, memory: OutletMemory, language_hint: str | None,
                       labeller: Labeller) -> ArticleDraft:
    """The article ready to store: its text cleaned of the outlet's boilerplate, then read."""
    extracted = reading.extracted
    if reading.paragraphs:
        cleaned = remove_boilerplate(reading.paragraphs, memory)
        if cleaned.changed:
            log.debug("url=%s boilerplate removed: %d paragraphs", reading.url, len(cleaned.removed))
            extracted = replace(extracted, text=cleaned.text)
    language = detect_language(f"{extracted.title}\n{extracted.text}",
                               declared=extracted.declared_language, hint=language_hint)
    fingerprint, signature = article_fingerprints(extracted.text, from_page=extracted.source == "page")
    return ArticleDraft(
        entry=reading.entry, url=reading.url, canonical_url=reading.canonical_url,
        extracted=extracted, language=language,
        fingerprint=fingerprint, signature=signature,
        labels=labeller.label(extracted.title, extracted.text, language.code),
        fetch_error=reading.fetch_error, etag=reading.etag, last_modified=reading.last_modified,
        paragraphs=paragraph_examples(reading.paragraphs))


def draft_from_page(entry: FeedEntry, page: FetchResult | None, error: Exception | None, *,
                    language_hint: str | None, labeller: Labeller,
                    memory: OutletMemory = OutletMemory()) -> ArticleDraft:
    """The article behind ``entry``, read and drafted in one go (with no memory: as extracted)."""
    return draft_from_reading(read_page(entry, page, error), memory=memory, language_hint=language_hint,
                              labeller=labeller)
