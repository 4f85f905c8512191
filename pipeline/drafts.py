"""Drafts: a fetched page (or a failed fetch) becomes an article ready to store.

Composes the pure stages for one article — extraction, language, fingerprints
(exact hash and MinHash signature), labels (concepts, topics, baseline similarity) —
for a new entry and for a re-check alike. Nothing here touches the network or the
database: the page comes in fetched.
"""

from __future__ import annotations

import logging

from pipeline.dedup import fingerprint_text, signature_of
from pipeline.errors import ExtractionError
from pipeline.extract import extract_article, summary_article
from pipeline.labels import Labeller
from pipeline.language import detect_language
from pipeline.models import ArticleDraft, ExtractedArticle, FeedEntry, FetchResult
from pipeline.urls import choose_canonical, clean_url

log = logging.getLogger(__name__)


def draft_from_page(entry: FeedEntry, page: FetchResult | None, error: Exception | None, *,
                    language_hint: str | None, labeller: Labeller) -> ArticleDraft:
    """The article behind ``entry``: from its page, or from the feed with the page's error."""
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
    language = detect_language(f"{extracted.title}\n{extracted.text}",
                               declared=extracted.declared_language, hint=language_hint)
    from_page = extracted.source == "page"
    return ArticleDraft(
        entry=entry, url=page_url, canonical_url=choose_canonical(page_url, extracted.canonical_url),
        extracted=extracted, language=language,
        fingerprint=fingerprint_text(extracted.text, from_page=from_page),
        signature=signature_of(extracted.text) if from_page else None,
        labels=labeller.label(extracted.title, extracted.text, language.code),
        fetch_error=fetch_error,
        etag=page.etag if page is not None and fetch_error is None else None,
        last_modified=page.last_modified if page is not None and fetch_error is None else None)
