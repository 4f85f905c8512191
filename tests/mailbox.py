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
