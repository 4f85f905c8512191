"""A real HTTP server on 127.0.0.1 for the tests: the fixture world, and faults.

Files under ``tests/fixtures/world`` are served at their relative path, with ``{{BASE}}``
replaced by the server's own address. Feeds and pages carry an ETag and a
Last-Modified and answer conditional requests with 304, like a well-behaved outlet.
Every request is counted per path. Paths under ``/fault/`` misbehave on purpose; paths
under ``/wild/`` serve what the real internet sends (``tests/hostile.py``).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from collections import Counter
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from tests import hostile

WORLD = Path(__file__).parent / "fixtures" / "world"
LAST_MODIFIED = 1755338400  # Sat, 16 Aug 2025 10:00:00 GMT
ROBOTS = b"User-agent: *\nDisallow: /private/\n"
CONTENT_TYPES = {".xml": "application/rss+xml; charset=utf-8", ".atom": "application/atom+xml",
                 ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8",
                 ".json": "application/feed+json", ".jpg": "image/jpeg"}


class FixtureServer:
    """Serves ``root`` on 127.0.0.1 at a free port; use as a context manager."""

    def __init__(self, root: Path = WORLD) -> None:
        self.root = root
        self.requests: Counter[str] = Counter()
        self.headers: list[tuple[str, dict[str, str]]] = []
        self.times: list[tuple[str, float]] = []  # (path, monotonic time) of every request
        self.replaced: dict[str, Path] = {}  # path -> file served instead (new versions)
        self.fault_state: Counter[str] = Counter()
        self.hang_seconds = 30.0
        self.robots = ROBOTS  # robots.txt as served (a test may add a Crawl-delay)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.handle_error = lambda request, address: None  # clients hanging up on faults
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"

    def __enter__(self) -> "FixtureServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.headers.clear()
            self.times.clear()
            self.fault_state.clear()

    def count(self, prefix: str = "") -> int:
        """Requests so far for paths starting with ``prefix``."""
        with self._lock:
            return sum(n for path, n in self.requests.items() if path.startswith(prefix))

    def record(self, path: str, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests[path] += 1
            self.headers.append((path, headers))
            self.times.append((path, time.monotonic()))

    def body_of(self, path: str) -> bytes | None:
        file = self.replaced.get(path)
        if file is None:
            file = self.root / path.lstrip("/")
            if not file.is_file() or self.root.resolve() not in file.resolve().parents:
                return None
        return file.read_bytes().replace(b"{{BASE}}", self.base.encode())


def _handler_for(server: FixtureServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            server.record(path, {k.lower(): v for k, v in self.headers.items()})
            if path == "/robots.txt":
                return self.send_body(server.robots, "text/plain")
            if path.startswith("/wild/"):
                return hostile.serve(self, server, self.path)
            if path.startswith("/fault/"):
                fault = FAULTS.get(path.removeprefix("/fault/"))
                if fault is None:
                    return self.send_status(404)
                return fault(self, server)
            body = server.body_of(path)
            if body is None:
                return self.send_status(404)
            self.send_conditional(body, CONTENT_TYPES.get(Path(path).suffix, "application/octet-stream"))

        def send_conditional(self, body: bytes, content_type: str) -> None:
            etag = '"%s"' % hashlib.sha1(body).hexdigest()[:16]
            last_modified = formatdate(LAST_MODIFIED + int(etag[1:9], 16) % 86400, usegmt=True)
            if self.headers.get("If-None-Match") == etag or (
                    "If-None-Match" not in self.headers
                    and _not_modified_since(self.headers.get("If-Modified-Since"), last_modified)):
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_body(body, content_type, {"ETag": etag, "Last-Modified": last_modified})

        def send_body(self, body: bytes, content_type: str, headers: dict[str, str] | None = None,
                      status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def send_status(self, status: int, headers: dict[str, str] | None = None) -> None:
            self.send_body(f"status {status}\n".encode(), "text/plain", headers, status)

    return Handler


def _not_modified_since(header: str | None, last_modified: str) -> bool:
    if not header:
        return False
    try:
        return parsedate_to_datetime(header) >= parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False


# --- faults ----------------------------------------------------------------------------

def _status_500(handler, server) -> None:
    handler.send_status(500)


def _too_many_requests(handler, server) -> None:
    handler.send_status(429, {"Retry-After": "1"})


def _busy_then_fine(handler, server) -> None:
    """429 with Retry-After the first time, then the CBC world feed."""
    server.fault_state["busy"] += 1
    if server.fault_state["busy"] == 1:
        return handler.send_status(429, {"Retry-After": "1"})
    handler.send_body(server.body_of("/feeds/cbc-world.xml"), CONTENT_TYPES[".xml"])


def _hang(handler, server) -> None:
    time.sleep(server.hang_seconds)
    handler.send_status(200)


def _trickle(handler, server) -> None:
    """Headers at once, then one byte a second: only a total deadline stops it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    for _ in range(int(server.hang_seconds)):
        handler.wfile.write(b"<")
        handler.wfile.flush()
        time.sleep(1)


def _trickle_headers(handler, server) -> None:
    """The status line and headers one byte at a time: only a total deadline stops it."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + b"X-Slow: " + b"a" * 4000 + b"\r\n\r\n"
    try:
        for byte in head[:int(server.hang_seconds * 4)]:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.25)
    except (BrokenPipeError, ConnectionResetError):
        pass
    handler.close_connection = True


def _malformed(handler, server) -> None:
    body = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>Broken</title>"
            b"<item><title>Unclosed <b>tag</title></channel>")
    handler.send_body(body, "application/rss+xml")


def _not_a_feed(handler, server) -> None:
    handler.send_body(b"<html><body><h1>Our new website</h1><p>Feeds moved.</p></body></html>",
                      "text/html")


def _wrong_charset(handler, server) -> None:
    """A windows-1251 feed served as UTF-8 (header and XML declaration both lie)."""
    text = ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            "<title>Новости</title><item><title>Переговоры в Анкоридже</title>"
            f"<link>{server.base}/fault/cp1251-page</link><guid>cp1251-1</guid>"
            "<description>Саммит завершился без соглашения о перемирии.</description>"
            "</item></channel></rss>")
    handler.send_body(text.encode("cp1251"), "application/rss+xml; charset=utf-8")


def _cp1251_page(handler, server) -> None:
    paragraph = ("Встреча президентов на Аляске завершилась без объявления о перемирии, "
                 "и наблюдатели в Киеве и Москве по-разному толкуют её итоги. ")
    page = (f"<html><head><title>Итоги встречи</title></head><body><article><h1>Итоги встречи</h1>"
            f"<p>{paragraph * 3}</p><p>{paragraph * 2}</p></article></body></html>")
    handler.send_body(page.encode("cp1251"), "text/html; charset=utf-8")


_BOMB = None


def _gzip_bomb(handler, server) -> None:
    """100 MB of zeros in about 100 KB of gzip."""
    global _BOMB
    if _BOMB is None:
        _BOMB = gzip.compress(b"\0" * (100 * 1024 * 1024), compresslevel=9)
    handler.send_body(_BOMB, "text/html", {"Content-Encoding": "gzip"})


def _huge_page(handler, server) -> None:
    """A 30 MB page without Content-Length (chunked by closing the connection)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.close_connection = True
    chunk = b"<p>" + b"filler text " * 8000 + b"</p>\n"
    sent = 0
    try:
        while sent < 30 * 1024 * 1024:
            handler.wfile.write(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up at its size cap, as it should


def _binary_page(handler, server) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
    handler.send_body(png, "text/html")


def _redirect_to(location: str):
    def redirect(handler, server) -> None:
        handler.send_status(302, {"Location": location})
    return redirect


def _redirect_loop(handler, server) -> None:
    handler.send_status(301, {"Location": "/fault/redirect-loop-b"})


def _redirect_loop_b(handler, server) -> None:
    handler.send_status(301, {"Location": "/fault/redirect-loop"})


def _empty_page(handler, server) -> None:
    handler.send_body(b"<html><head><title>Live</title></head><body><div id='app'></div>"
                      b"<script>render()</script></body></html>", "text/html")


FAULTY_PAGES = ("gzip-bomb", "huge-page", "binary-page", "redirect-private", "redirect-metadata",
                "redirect-loop", "empty-page", "500", "cp1251-page")


def _faulty_pages_feed(handler, server) -> None:
    """A healthy feed whose every item points at a misbehaving page, plus one robots.txt forbids."""
    items = [(name, f"{server.base}/fault/{name}") for name in FAULTY_PAGES]
    items.append(("robots", f"{server.base}/private/internal-memo.html"))
    body = "".join(
        f"<item><title>Item {name}</title><link>{link}</link><guid>fault-{name}</guid>"
        f"<description>Teaser for the item {name}, kept when its page cannot be used.</description>"
        f"<pubDate>Sun, 17 Aug 2025 08:00:00 GMT</pubDate></item>" for name, link in items)
    feed = (f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Faulty pages</title>"
            f"{body}</channel></rss>")
    handler.send_body(feed.encode(), "application/rss+xml")


FAULTS = {
    "faulty-pages.xml": _faulty_pages_feed,
    "500": _status_500,
    "429": _too_many_requests,
    "busy-then-fine": _busy_then_fine,
    "hang": _hang,
    "trickle": _trickle,
    "trickle-headers": _trickle_headers,
    "malformed.xml": _malformed,
    "not-a-feed": _not_a_feed,
    "wrong-charset.xml": _wrong_charset,
    "cp1251-page": _cp1251_page,
    "gzip-bomb": _gzip_bomb,
    "huge-page": _huge_page,
    "binary-page": _binary_page,
    "redirect-private": _redirect_to("http://10.0.0.7/internal/feed.xml"),
    "redirect-metadata": _redirect_to("http://169.254.169.254/latest/meta-data/"),
    "redirect-mapped": _redirect_to("http://[::ffff:10.1.2.3]/x"),
    "redirect-loop": _redirect_loop,
    "redirect-loop-b": _redirect_loop_b,
    "empty-page": _empty_page,
}
