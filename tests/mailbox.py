"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it is sent."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


class Mailbox:
    """Accepts mail for anyone; ``messages`` holds them parsed. Use as a context manager."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        with socket.socket() as probe:  # the Controller needs a port before it starts
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's handler hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 OK"

    @property
    def url(self) -> str:
        """An Apprise URL that sends plain SMTP to this server."""
        return (f"mailto://127.0.0.1:{self.port}?from=newswatch@example.test"
                f"&to=desk@example.test&mode=insecure")

    def bodies(self) -> list[str]:
        with self._lock:
            return [m.get_body(("plain", "html")).get_content() for m in self.messages]

    def __enter__(self) -> "Mailbox":
        self._controller.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._controller.stop()


class TricklingMailServer:
    """An SMTP server on 127.0.0.1 that never finishes its greeting: one byte every
    ``interval`` seconds to each client, until the client hangs up or the server stops."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.connections = 0
        self.hung_up = threading.Event()  # a client closed its connection
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=newswatch@example.test&to=desk@example.test&mode=insecure"

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed: the server stops
            self.connections += 1
            threading.Thread(target=self._trickle, args=(client,), daemon=True).start()

    def _trickle(self, client: socket.socket) -> None:
        with client:
            try:
                client.sendall(b"220 ")
                while not self._stopping.wait(self.interval):
                    client.sendall(b"z")
            except (BrokenPipeError, ConnectionResetError):
                self.hung_up.set()

    def __enter__(self) -> "TricklingMailServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._listener.close()
