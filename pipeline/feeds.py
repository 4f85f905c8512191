"""The feed stage: a feed body (bytes) becomes a list of entries.

feedparser reads the bytes (never a URL: fetching is ``pipeline.fetch``'s job) and
copes with RSS 0.9x/1.0/2.0 and Atom, wrong encodings, relative links and
odd dates such as CBC's ``EDT``. This stage adds what feedparser leaves to us: a stable
key for entries without a GUID, links cleaned of campaign parameters, teaser HTML
turned into text, a cap on entries, and a clear ``FeedParseError`` for a body that is
not a usable feed. Entity bombs do not expand: expat refuses billion-laughs bodies and
feedparser's loose fallback leaves undefined entities alone (the feed then carries a
warning). Nothing here touches the network or the database.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser
import lxml.html
from charset_normalizer import from_bytes
from feedparser.exceptions import CharacterEncodingOverride
from lxml.etree import ParserError

from pipeline.errors import FeedParseError
from pipeline.models import FeedEntry, ParsedFeed
from pipeline.urls import clean_url

_SPACE = re.compile(r"\s+")
LATIN_FALLBACKS = frozenset({"cp1252", "latin_1", "iso8859_15"})
_XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(['"])[^'"]*\2""")
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "blockquote", "tr")
MAX_TITLE_CHARS = 1000


def parse_feed(body: bytes, *, feed: str, url: str, content_type: str = "",
               max_entries: int = 100) -> ParsedFeed:
    """Entries of the feed ``feed`` fetched from ``url``; FeedParseError if there are none to use."""
    # Whitespace before the XML declaration is a common server bug that makes expat give up.
    body = body.lstrip(b" \t\r\n")
    if body.startswith(b"{"):
        raise FeedParseError(feed, "a JSON Feed; newswatch reads RSS and Atom (feedparser 6)")
    # Without a Content-Type feedparser flags every body; servers that send none mean XML.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    parsed = _feedparse(body, headers)
    warning = _bozo_reason(parsed) if parsed.get("bozo") else None
    if isinstance(parsed.get("bozo_exception"), CharacterEncodingOverride):
        redecoded = _redecode(body)
        if redecoded is not None:
            text, encoding = redecoded
            parsed = _feedparse(text.encode("utf-8"), {**headers, "content-type": _utf8(content_type)})
            warning = f"declared charset is wrong; decoded as {encoding}"
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    without_link = 0
    for raw in parsed.entries:
        entry = _entry(raw, url)
        if entry is None:
            without_link += 1
        elif entry.guid not in seen:
            seen.add(entry.guid)
            entries.append(entry)
    if not entries:
        if not parsed.get("version"):
            raise FeedParseError(feed, "not an RSS or Atom feed" + (f" ({warning})" if warning else ""))
        if warning:
            raise FeedParseError(feed, f"malformed feed: {warning}")
    skipped = without_link + max(0, len(entries) - max_entries)
    channel = parsed.get("feed", {})
    return ParsedFeed(
        title=html_to_text(channel.get("title", ""))[:MAX_TITLE_CHARS],
        language=channel.get("language") or None,
        entries=tuple(entries[:max_entries]),
        warning=warning,
        skipped=skipped,
    )


def _feedparse(body: bytes, headers: dict[str, str]) -> feedparser.FeedParserDict:
    return feedparser.parse(body, response_headers=headers, sanitize_html=True,
                            resolve_relative_uris=True)


def _redecode(body: bytes) -> tuple[str, str] | None:
    """The body as text when feedparser's last resort, windows-1252, cannot be right.

    A wrongly declared Latin-script feed reads fine as windows-1252, and feedparser keeps
    it; Cyrillic in windows-1251 or KOI8-R becomes mojibake that way, so it is decoded
    with the charset detected here and parsed again as UTF-8.
    """
    candidates = from_bytes(body)
    best = candidates.best()
    if best is None or {c.encoding for c in candidates} & LATIN_FALLBACKS:
        return None
    return _XML_ENCODING.sub(r"\1\2utf-8\2", str(best), count=1), best.encoding


def _utf8(content_type: str) -> str:
    media_type = content_type.split(";")[0].strip() or "application/xml"
    return f"{media_type}; charset=utf-8"


def _bozo_reason(parsed: feedparser.FeedParserDict) -> str:
    error = parsed.get("bozo_exception")
    name = type(error).__name__ if error is not None else "unknown error"
    message = str(error).strip() if error is not None else ""
    return f"{name}: {message}" if message else name


def _entry(raw: feedparser.FeedParserDict, feed_url: str) -> FeedEntry | None:
    link = _entry_link(raw, feed_url)
    if link is None:
        return None
    try:
        url = clean_url(link)
    except ValueError:
        return None
    title = html_to_text(raw.get("title", ""))[:MAX_TITLE_CHARS]
    published = _entry_time(raw)
    guid = (raw.get("id") or "").strip() or link  # no GUID: the link is the entry's identity
    return FeedEntry(
        guid=guid[:1000],
        link=link,
        url=url,
        title=title,
        author=html_to_text(raw.get("author", ""))[:300],
        published_at=published,
        summary=_entry_text(raw),
    )


def _entry_link(raw: feedparser.FeedParserDict, feed_url: str) -> str | None:
    link = (raw.get("link") or "").strip()
    if not link:
        alternates = [l.get("href") for l in raw.get("links", []) if l.get("href")]
        link = alternates[0].strip() if alternates else ""
    if not link and re.match(r"^https?://", raw.get("id") or ""):
        link = raw["id"].strip()  # RSS permalink GUIDs without <link>
    return urljoin(feed_url, link) if link else None


def _entry_text(raw: feedparser.FeedParserDict) -> str:
    """The longest text the feed gives for the entry: full content, or the summary."""
    texts = [html_to_text(c.get("value", "")) for c in raw.get("content", [])]
    texts.append(html_to_text(raw.get("summary", "")))
    return max(texts, key=len)


def _entry_time(raw: feedparser.FeedParserDict) -> datetime | None:
    present = dict.keys(raw)  # not raw.get: feedparser warns on its published/updated aliasing
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = raw[key] if key in present else None
        if value:
            try:
                return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment (teasers, titles), whitespace collapsed."""
    if not fragment or "<" not in fragment:
        return _SPACE.sub(" ", fragment or "").strip()
    try:
        tree = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ParserError, ValueError):
        return _SPACE.sub(" ", re.sub(r"<[^>]*>", " ", fragment)).strip()
    for element in tree.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    lines = (_SPACE.sub(" ", line).strip() for line in tree.text_content().split("\n"))
    return "\n".join(line for line in lines if line)
