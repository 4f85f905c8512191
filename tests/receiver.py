"""A real webhook receiver on 127.0.0.1 that records what Apprise (or anyone) posts to it."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """Records every POST with the status it was answered with (``status``, 200 by default);
    ``on_post``, if set, is called with each before it is answered. Use as a context manager;
    ``port`` 0 picks a free one."""

    def __init__(self, port: int = 0) -> None:
        self.posts: list[dict] = []
        self.status = 200
        self.on_post: Callable[[dict], None] | None = None  # runs before each answer
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"raw": body.decode("utf-8", "replace")}
                with receiver._lock:
                    status = receiver.status
                    post = {"path": self.path, "body": payload, "status": status, "received_at": time.time()}
                    receiver.posts.append(post)
                if receiver.on_post is not None:
                    receiver.on_post(post)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def documents(self, status: int | None = None) -> list[dict]:
        """The structured alert of each post (answered with ``status``, if given)."""
        return [alert_document(p) for p in self.posts if status is None or p["status"] == status]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"json://{host}:{port}/hook"

    def __enter__(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def alert_document(post: dict) -> dict:
    """The ``alert.json`` newswatch attaches for JSON webhooks (Apprise sends it base64-encoded)."""
    [attachment] = post["body"]["attachments"]
    assert attachment["filename"] == "alert.json"
    return json.loads(base64.b64decode(attachment["base64"]))
