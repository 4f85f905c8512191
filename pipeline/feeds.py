"""The feed stage: a feed body (bytes) becomes a list of entries.

feedparser reads the bytes (never a URL: fetching is ``pipeline.fetch``'s job) and
copes with RSS 0.9x/1.0/2.0 and Atom, wrong encodings, relative links and
odd dates such as CBC's ``EDT``. This stage adds what feedparser leaves to us: a stable
key for entries without a GUID, links cleaned of campaign parameters, teaser HTML
turned into text, entries newest first (a memory cap keeps the newest), and a clear
``FeedParseError`` for a body that is not a usable feed. Entity bombs do not expand:
expat refuses billion-laughs bodies and feedparser's loose fallback leaves undefined
entities alone (the feed then carries a warning). What the real internet sends is made
harmless before it gets far: character references to lone surrogates or NUL (which
feedparser cannot encode) become U+FFFD, dates before the web existed — Hugo and other
Go tools write ``0001-01-01`` for undated pages — or after 2100 are dropped with a note,
and over-long GUIDs are shortened to a prefix and a hash. Nothing here touches the
network or the database.
"""

from __future__ import annotations

import calendar
import dataclasses
import hashlib
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
MAX_FEED_ENTRIES = 10_000  # a memory guard: a 10 MiB body of tiny items keeps its newest 10,000
MAX_GUID_BYTES = 1000  # PostgreSQL indexes (feed, GUID); a btree entry must stay under 2,704 bytes
EARLIEST = datetime(1991, 1, 1, tzinfo=timezone.utc)  # no news feed is older than the web
LATEST = datetime(2100, 1, 1, tzinfo=timezone.utc)
_CHARACTER_REFERENCE = re.compile(rb"&#([xX][0-9a-fA-F]{1,16}|[0-9]{1,20});")


def parse_feed(body: bytes, *, feed: str, url: str, content_type: str = "",
               max_entries: int = MAX_FEED_ENTRIES) -> ParsedFeed:
    """Entries of the feed ``feed`` fetched from ``url``, newest first; FeedParseError if
    there are none to use."""
    # Whitespace before the XML declaration is a common server bug that makes expat give up.
    body = _CHARACTER_REFERENCE.sub(_storable_reference, body.lstrip(b" \t\r\n"))
    if body.startswith(b"{"):
        raise FeedParseError(feed, "a JSON Feed; newswatch reads RSS and Atom (feedparser 6)")
    # Without a Content-Type feedparser flags every body; servers that send none mean XML.
    headers = {"content-location": url, "content-type": content_type or "application/xml"}
    parsed = _feedparse(body, headers, feed)
    warning = _bozo_reason(parsed) if parsed.get("bozo") else None
    if isinstance(parsed.get("bozo_exception"), CharacterEncodingOverride):
        redecoded = _redecode(body)
        if redecoded is not None:
            text, encoding = redecoded
            parsed = _feedparse(text.encode("utf-8"), {**headers, "content-type": _utf8(content_type)}, feed)
            warning = f"declared charset is wrong; decoded as {encoding}"
    entries, without_link, undated = _entries(parsed, url)
    if not entries:
        if not parsed.get("version"):
            raise FeedParseError(feed, "not an RSS or Atom feed" + (f" ({warning})" if warning else ""))
        if warning:
            raise FeedParseError(feed, f"malformed feed: {warning}")
    notes = [warning] if warning else []
    if undated:
        notes.append(f"{undated} entries dated before {EARLIEST.year} or after {LATEST.year}: "
                     "taken as undated (dated when first seen)")
    if len(entries) > max_entries:
        notes.append(f"{len(entries)} entries: only the newest {max_entries} were read")
    channel = parsed.get("feed", {})
    return ParsedFeed(
        title=html_to_text(channel.get("title", ""))[:MAX_TITLE_CHARS],
        language=channel.get("language") or None,
        entries=tuple(entries[:max_entries]),
        warning="; ".join(notes) or None,
        skipped=without_link + max(0, len(entries) - max_entries),
    )


def _entries(parsed: feedparser.FeedParserDict, url: str) -> tuple[list[FeedEntry], int, int]:
    """The usable entries, newest first (undated ones first, in the feed's order), how many
    had no usable link, and how many had an implausible date."""
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    without_link = undated = 0
    for raw in parsed.entries:
        entry = _entry(raw, url)
        if entry is None:
            without_link += 1
            continue
        if entry.published_at is not None and not EARLIEST <= entry.published_at < LATEST:
            entry = dataclasses.replace(entry, published_at=None)
            undated += 1
        if entry.guid not in seen:
            seen.add(entry.guid)
            entries.append(entry)
    entries.sort(key=lambda e: e.published_at or LATEST, reverse=True)  # stable: ties keep feed order
    return entries, without_link, undated


def _storable_reference(match: re.Match[bytes]) -> bytes:
    """A character reference as it was, or U+FFFD for one no XML parser may produce: NUL and
    the C0 controls but tab, newline and carriage return, lone surrogates, past U+10FFFF."""
    digits = match.group(1)
    code = int(digits[1:], 16) if digits[:1] in b"xX" else int(digits)
    if code in (0x9, 0xA, 0xD) or 0x20 <= code < 0xD800 or 0xE000 <= code <= 0x10FFFF:
        return match.group(0)
    return b"&#xFFFD;"


def _feedparse(body: bytes, headers: dict[str, str], feed: str) -> feedparser.FeedParserDict:
    try:
        return feedparser.parse(body, response_headers=headers, sanitize_html=True,
                                resolve_relative_uris=True)
    except (UnicodeError, ValueError, OverflowError, RecursionError) as error:
        # feedparser has its own failure modes on hostile bodies; the feed says which.
        raise FeedParseError(feed, f"feedparser failed: {type(error).__name__}: {error}") from None


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
        guid=_bounded_guid(guid),
        link=link,
        url=url,
        title=title,
        author=html_to_text(raw.get("author", ""))[:300],
        published_at=published,
        summary=_entry_text(raw),
        updated=_entry_updated(raw),
    )


def _bounded_guid(guid: str) -> str:
    """The GUID, or for one too long to index, its start and a hash of the whole."""
    if len(guid.encode("utf-8", "replace")) <= MAX_GUID_BYTES:
        return guid
    digest = hashlib.sha256(guid.encode("utf-8", "replace")).hexdigest()
    return guid[:200] + "#sha256:" + digest


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


def _entry_updated(raw: feedparser.FeedParserDict) -> str:
    """The entry's mark of its last change as the feed writes it: atom:updated and
    dcterms:modified (feedparser's ``updated``) or dc:modified; empty when it has none."""
    present = dict.keys(raw)  # not raw.get: feedparser would offer ``published`` for ``updated``
    for key in ("updated", "dc_modified"):
        if key in present and isinstance(raw[key], str) and raw[key].strip():
            return raw[key].strip()[:100]
    return ""


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
