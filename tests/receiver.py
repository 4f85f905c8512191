"""A real webhook receiver on 127.0.0.1 that records what Apprise (or anyone) posts to it, and
answers as told: plainly, or as a receiver that misbehaves (redirects, floods, trickles)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


Answer = Callable[[BaseHTTPRequestHandler, threading.Event], None]


class WebhookReceiver:
    """Records every request (``posts``, GETs too) with the status it was answered with
    (``status``, 200 by default); ``on_post``, if set, is called with each before it is
    answered; ``answer``, if set, answers instead (see the misbehaving answers below: it is
    told when the receiver stops). Use as a context manager; ``port`` 0 picks a free one,
    ``host`` another loopback address (127.0.0.2 needs no set-up on Linux)."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.posts: list[dict] = []
        self.status = 200
        self.on_post: Callable[[dict], None] | None = None  # runs before each answer
        self.answer: Answer | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.do_POST()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"raw": body.decode("utf-8", "replace")}
                with receiver._lock:
                    status = receiver.status
                    post = {"method": self.command, "path": self.path, "body": payload, "status": status,
                            "received_at": time.time()}
                    receiver.posts.append(post)
                if receiver.on_post is not None:
                    receiver.on_post(post)
                if receiver.answer is not None:
                    receiver.answer(self, receiver._stopping)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def documents(self, status: int | None = None) -> list[dict]:
        """The structured alert of each post (answered with ``status``, if given)."""
        return [alert_document(p) for p in self.posts if status is None or p["status"] == status]

    @property
    def url(self) -> str:
        return f"json://{self.address}/hook"

    @property
    def address(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{host}:{port}"

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()


# Misbehaving answers: set one as a receiver's ``answer``. Each stops when the client hangs
# up (which is what newswatch should do) or when the receiver stops.
HUNG_UP = (BrokenPipeError, ConnectionResetError)


def redirect(status: int, location: str) -> Answer:
    def answer(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def flood(size: int, status: int = 500, location: str | None = None) -> Answer:
    """A body of ``size`` bytes (an error, or with ``location`` a redirect), written as fast
    as the client reads it."""
    block = b"overload " * 7282  # about 64 KiB

    def answer(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(status)
        if location:
            handler.send_header("Location", location)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        written = 0
        try:
            while written < size and not stopping.is_set():
                handler.wfile.write(block[:size - written])
                written += len(block)
        except HUNG_UP:
            return

    return answer


def trickle_headers(interval: float) -> Answer:
    """A status line, then one byte of a header that never ends every ``interval`` seconds."""
    def answer(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        try:
            handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stopping.wait(interval):
                handler.wfile.write(b"z")
        except HUNG_UP:
            return

    return answer


def trickle_body(interval: float, size: int = 10_000) -> Answer:
    """``200 OK`` and its headers at once, then one byte of the body every ``interval`` seconds."""
    def answer(handler: BaseHTTPRequestHandler, stopping: threading.Event) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(size))
        handler.end_headers()
        try:
            for _ in range(size):
                if stopping.wait(interval):
                    return
                handler.wfile.write(b"z")
        except HUNG_UP:
            return

    return answer


def alert_document(post: dict) -> dict:
    """The ``alert.json`` newswatch attaches for JSON webhooks (Apprise sends it base64-encoded)."""
    [attachment] = post["body"]["attachments"]
    assert attachment["filename"] == "alert.json"
    return json.loads(base64.b64decode(attachment["base64"]))
