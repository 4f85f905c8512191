"""The article stage: an HTML page becomes clean text with its metadata.

trafilatura extracts the body (comments excluded: they are readers' words, not the
outlet's) and the metadata; the page is parsed once, and its declared language and
canonical link are read from the same tree. When the page yields fewer words than the
feed gave — a video page, a paywall teaser — the feed's text is used instead and the
article says so (``source="feed"`` and a note); it never happens silently. Nothing here touches the
network or the database.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timezone
from typing import Any

import trafilatura
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_author,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import Document
from trafilatura.utils import decode_file

from pipeline.errors import ExtractionError
from pipeline.models import ExtractedArticle, FeedEntry, FetchResult

log = logging.getLogger(__name__)
# Measured on the AEB benchmark (bench/extraction.py): fast mode without comments keeps
# F1 above trafilatura's published default at two thirds of its CPU time.
EXTRACTION_OPTIONS: dict[str, Any] = {"fast": True, "include_comments": False, "include_tables": True}
_WORD = re.compile(r"\w+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def decode_html(body: bytes, charset: str | None = None) -> str:
    """Text of an HTML body: UTF-8 if it is valid UTF-8, else the declared, else a detected charset."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    meta = _META_CHARSET.search(body[:4096])
    for candidate in (charset, meta.group(1).decode("ascii") if meta else None):
        if candidate:
            try:
                return body.decode(candidate)
            except (LookupError, UnicodeDecodeError):
                continue
    return decode_file(body)


def extract_article(page: FetchResult, entry: FeedEntry) -> ExtractedArticle:
    """The article in ``page``; the entry's summary instead when the page has fewer words."""
    tree = trafilatura.load_html(decode_html(page.body, page.charset))
    if tree is None:
        raise ExtractionError(page.final_url, "the page is not parseable HTML")
    declared_language = _declared_language(tree)
    canonical = _canonical_link(tree)
    # A feed that dates its entry spares us trafilatura's date search (htmldate), the costly
    # part of its metadata pass; the headline and site name are read the same way, and the
    # author too unless the feed names one (the search of the page's byline is the next
    # costliest part).
    dated = entry.published_at is not None
    try:
        document = trafilatura.bare_extraction(tree, url=page.final_url, with_metadata=not dated,
                                               **EXTRACTION_OPTIONS)
        about = page_metadata(tree, page.final_url, author=not entry.author) if dated else document
    except Exception as error:  # hostile HTML must not stop the cycle; we keep the reason
        log.exception("url=%s extractor failed", page.final_url)
        raise ExtractionError(page.final_url, f"extractor failed: {type(error).__name__}: {error}") from error
    text = (document.text or "").strip() if document is not None else ""  # type: ignore[union-attr]  # not as_dict
    metadata: dict[str, Any] = {
        "title": entry.title or getattr(about, "title", None) or "",
        "author": entry.author or getattr(about, "author", None) or "",
        "published_at": entry.published_at or _page_date(document),
        "site_name": getattr(about, "sitename", None) or "",
        "canonical_url": canonical,
        "declared_language": declared_language,
        "page_title": getattr(about, "title", None) or "",
    }
    words, summary_words = count_words(text), count_words(entry.summary)
    if summary_words > words:
        # A video or paywalled page: its text (captions, bylines, share buttons) says less
        # than the feed's own teaser, or the feed carries the full text.
        note = f"page gave {words} words, the feed {summary_words}; text is the feed's"
        return ExtractedArticle(text=entry.summary, source="feed", note=note, **metadata)
    if not text:
        raise ExtractionError(page.final_url, "no article text in the page or the feed summary")
    return ExtractedArticle(text=text, source="page", **metadata)


def page_metadata(tree: HtmlElement, url: str, *, author: bool = True) -> Document:
    """The page's headline, author and site name as trafilatura's metadata pass finds them
    (meta tags, JSON-LD, title elements), without its date search; without the byline
    search too when ``author`` is false (the meta tags' author is still read)."""
    document = examine_meta(tree)
    if document.author and " " not in document.author:
        document.author = None  # as trafilatura does: a single word is no author's name
    try:
        document = extract_meta_json(tree, document)
    except Exception:  # noqa: BLE001 — trafilatura's own fallback: malformed JSON-LD counts for nothing
        log.debug("malformed JSON-LD metadata")
    document.title = document.title or extract_title(tree)
    if author:
        document.author = document.author or extract_author(tree)
    document.sitename = (document.sitename or extract_sitename(tree) or "").lstrip("@")
    if document.sitename and "." not in document.sitename and not document.sitename[0].isupper():
        document.sitename = document.sitename.title()
    if not document.sitename:  # the domain of the page's own URL, as trafilatura falls back to
        domain = META_URL.match(document.url or extract_url(tree, url) or "")
        document.sitename = domain[1] if domain else ""
    document.clean_and_trim()
    return document


def summary_article(entry: FeedEntry, note: str) -> ExtractedArticle:
    """The entry as the feed gave it, for a page that could not be fetched or read."""
    return ExtractedArticle(text=entry.summary, source="feed", title=entry.title,
                            author=entry.author, published_at=entry.published_at, note=note)


def _declared_language(tree: HtmlElement) -> str | None:
    for value in (tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")):
        if value and value.strip():
            return value.strip()
    for meta in tree.iterfind(".//meta[@http-equiv]"):
        if meta.get("http-equiv", "").lower() == "content-language" and meta.get("content"):
            return meta.get("content").split(",")[0].strip()
    return None


def _canonical_link(tree: HtmlElement) -> str | None:
    for link in tree.iterfind(".//head//link[@rel]"):
        if "canonical" in link.get("rel", "").lower().split() and link.get("href"):
            return link.get("href").strip()
    for meta in tree.iterfind(".//head//meta[@property]"):
        if meta.get("property", "").lower() == "og:url" and meta.get("content"):
            return meta.get("content").strip()
    return None


def _page_date(document: object) -> datetime | None:
    value = getattr(document, "date", None)
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
