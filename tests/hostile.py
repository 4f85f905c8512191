"""What the real internet sends, served by the fixture server under ``/wild/``: feeds
and pages that once stopped a cycle, lost a feed's articles or held a poll for hours.

Feeds: ``zero-date.xml`` (Go CMSs date undated pages 0001-01-01), ``surrogate.xml``
(character references to lone surrogates and NUL), ``poison.xml`` (pages PostgreSQL
would refuse: NUL, a 3 KB word, a vocabulary past a tsvector's 1 MiB, an over-long
``lang``), ``refused.xml`` (one item a database trigger refuses), ``many.xml?n=150``
(more entries than one poll takes), ``trickling-pages.xml?n=20`` (every page trickles),
``pages.xml?n=5`` (plain pages: for a host with a ``Crawl-delay``); answers with absurd
``Retry-After`` values; and ``gigabyte``, a 1 GiB page. Pages: ``page/<key>`` gives an article of its own words.
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate
from urllib.parse import parse_qs, urlsplit

REFUSED_TITLE = "REFUSE-ME"  # a database trigger in a test refuses articles titled so
BUG_TITLE = "Bug-trigger item"  # a test makes a stage fail on this title: a stand-in for a bug
_SYLLABLES = ("ka", "lo", "mi", "ne", "su", "ta", "ri", "vo", "de", "pa", "shi", "gu", "ber", "ton", "wel")


def words(key: str, count: int) -> str:
    """``count`` made-up words that depend on ``key`` only: pages that share no text."""
    out = []
    seed = hashlib.sha256(key.encode()).digest()
    for index in range(count):
        digest = hashlib.sha256(seed + index.to_bytes(4, "big")).digest()
        out.append("".join(_SYLLABLES[b % len(_SYLLABLES)] for b in digest[:2 + digest[2] % 3]))
    return " ".join(out)


def page_html(key: str, body: str | None = None, lang: str = "en") -> bytes:
    paragraphs = body if body is not None else "".join(
        f"<p>{words(key + str(n), 60)}.</p>" for n in range(3))
    return (f"<html lang='{lang}'><head><title>Page {key}</title></head><body><article>"
            f"<h1>Page {key}</h1>{paragraphs}</article></body></html>").encode("utf-8")


def rss(items: list[tuple[str, str, str]], server) -> bytes:
    """An RSS 2.0 feed of (title, link path, pubDate) items on ``server``."""
    body = "".join(
        f"<item><title>{title}</title><link>{server.base}/{path}</link><guid>{path}</guid>"
        f"<description>Teaser of {title}: {words(path, 12)}.</description>"
        + (f"<pubDate>{date}</pubDate>" if date else "") + "</item>" for title, path, date in items)
    return (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Hostile</title>"
            f"{body}</channel></rss>").encode("utf-8")


def _date(index: int) -> str:
    return formatdate(1755338400 + index * 60, usegmt=True)


def _zero_date(handler, server, query) -> None:
    items = [("Undated by Hugo", "wild/page/zero-1", "Mon, 01 Jan 0001 00:00:00 +0000"),
             ("Dated far ahead", "wild/page/zero-2", "Fri, 31 Dec 9999 23:59:59 GMT"),
             ("Dated properly", "wild/page/zero-3", _date(1))]
    handler.send_body(rss(items, server), "application/rss+xml")


def _surrogate(handler, server, query) -> None:
    items = [("Lone &#xD800; surrogate &#0; and &#55296;", "wild/page/surrogate-1", _date(2)),
             ("Plain neighbour", "wild/page/surrogate-2", _date(3))]
    handler.send_body(rss(items, server), "application/rss+xml")


def _poison(handler, server, query) -> None:
    keys = ["nul", "long-word", "vocabulary", "long-lang", "poison-ok-1", "poison-ok-2"]
    handler.send_body(rss([(f"Poison {k}", f"wild/page/{k}", _date(i)) for i, k in enumerate(keys)], server),
                      "application/rss+xml")


def _refused(handler, server, query) -> None:
    items = [(f"{REFUSED_TITLE} please", "wild/page/refused-1", _date(1)),
             ("Healthy one", "wild/page/refused-2", _date(2)),
             ("Healthy two", "wild/page/refused-3", _date(3))]
    handler.send_body(rss(items, server), "application/rss+xml")


def _many(handler, server, query) -> None:
    count = int(query.get("n", ["150"])[0])
    # Oldest first, as some feeds list them: the newest must still be taken first.
    items = [(f"Item {i}", f"wild/page/many-{i}", _date(i)) for i in range(count)]
    handler.send_body(rss(items, server), "application/rss+xml")


def _trickling_pages(handler, server, query) -> None:
    count = int(query.get("n", ["20"])[0])
    items = [(f"Slow {i}", f"fault/trickle?page={i}", _date(i)) for i in range(count)]
    handler.send_body(rss(items, server), "application/rss+xml")


def _pages(handler, server, query) -> None:
    count = int(query.get("n", ["5"])[0])
    title = BUG_TITLE if "bug" in query else "Page"
    items = [(f"{title} {i}", f"wild/page/plain-{i}", _date(i)) for i in range(count)]
    handler.send_body(rss(items, server), "application/rss+xml")


def _page(handler, server, key: str) -> None:
    if key == "nul":
        body = page_html(key, f"<p>{words('nul-a', 80)}\x00 {words('nul-b', 80)}.</p>")
    elif key == "long-word":
        body = page_html(key, f"<p>{words('long-a', 80)} {'x' * 3000} {words('long-b', 80)}.</p>")
    elif key == "vocabulary":  # 16,000 distinct 70-letter words: a tsvector well past 1 MiB
        vocabulary = " ".join(hashlib.sha256(str(i).encode()).hexdigest()[:64].translate(
            str.maketrans("0123456789", "ghijklmnop")) + f"w{i:05d}" for i in range(16_000))
        body = page_html(key, f"<p>{words('vocab', 80)}</p><p>{vocabulary}</p>")
    elif key == "long-lang":
        body = page_html(key, lang="en-" + "x" * 200)
    else:
        body = page_html(key)
    handler.send_body(body, "text/html; charset=utf-8")


def _gigabyte(handler, server, query) -> None:
    """A 1 GiB page with its length announced only after the headers (chunks until closed)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    chunk = b"<p>" + b"filler " * 9000 + b"</p>\n"
    try:
        for _ in range(1024 ** 3 // len(chunk)):
            handler.wfile.write(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client stopped reading at its cap


def _retry_after(value: str, status: int = 429):
    def answer(handler, server, query) -> None:
        handler.send_status(status, {"Retry-After": value})
    return answer


ROUTES = {
    "zero-date.xml": _zero_date,
    "surrogate.xml": _surrogate,
    "poison.xml": _poison,
    "refused.xml": _refused,
    "many.xml": _many,
    "trickling-pages.xml": _trickling_pages,
    "pages.xml": _pages,
    "gigabyte": _gigabyte,
    "retry-after-huge": _retry_after("99999999999999999999"),
    "retry-after-3e9": _retry_after("3000000000"),
    "retry-after-9999": _retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 503),
}


def serve(handler, server, path: str) -> None:
    """Answer ``/wild/...``."""
    parts = urlsplit(path)
    name = parts.path.removeprefix("/wild/")
    if name.startswith("page/"):
        return _page(handler, server, name.removeprefix("page/"))
    route = ROUTES.get(name)
    if route is None:
        return handler.send_status(404)
    route(handler, server, parse_qs(parts.query))
