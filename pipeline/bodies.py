"""Response bodies: bounded decompression, and telling HTML from what merely claims to be.

Pure helpers of the fetcher (``pipeline.fetch``); nothing here touches the network.
"""

from __future__ import annotations

import zlib
from typing import Any

from pipeline.errors import BodyTooLargeError, ContentTypeError, DecodingError
from pipeline.models import FetchResult

HTML_TYPES = ("text/html", "application/xhtml+xml")
# Magic numbers of formats that servers mislabel as text/html.
BINARY_SIGNATURES = (b"%PDF", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"PK\x03\x04", b"\x1f\x8b",
                     b"RIFF", b"\x00\x00\x00", b"ID3", b"OggS", b"fLaC")


class BoundedDecoder:
    """Decompresses gzip/deflate in steps of at most ``limit`` bytes of output."""

    def __init__(self, encoding: str, url: str, limit: int) -> None:
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise DecodingError(url, f"unsupported Content-Encoding {encoding!r}")
        self.url = url
        self.limit = limit
        self.compressed = encoding not in ("", "identity")
        self.wbits = 47 if encoding in ("gzip", "x-gzip") else 15  # 47: gzip or zlib header
        self._decompressor: Any = zlib.decompressobj(self.wbits) if self.compressed else None
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        if not self.compressed:
            self._append(data)
            return
        while data:
            try:
                out = self._decompressor.decompress(data, self.limit - self._size + 1)
            except zlib.error as error:
                if self.wbits == 15 and self._size == 0:  # some servers send raw deflate
                    self.wbits = -15
                    self._decompressor = zlib.decompressobj(-15)
                    continue
                raise DecodingError(self.url, f"corrupt compressed body: {error}") from None
            self._append(out)
            data = self._decompressor.unconsumed_tail
            if self._decompressor.eof and self._decompressor.unused_data:
                data = self._decompressor.unused_data  # a further gzip member
                self._decompressor = zlib.decompressobj(self.wbits)

    def _append(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self.limit:
            raise BodyTooLargeError(self.url, self.limit)
        self._parts.append(data)

    def finish(self) -> bytes:
        if self._decompressor is not None:
            self._append(self._decompressor.flush())
        return b"".join(self._parts)


def check_html(result: FetchResult) -> None:
    """Raise ContentTypeError unless the body is an HTML document."""
    media_type = result.content_type.split(";")[0].strip().lower()
    if media_type and media_type not in HTML_TYPES:
        raise ContentTypeError(result.final_url, f"not an HTML page: Content-Type {media_type}")
    head = result.body[:1024]
    if head.lstrip().startswith(BINARY_SIGNATURES) or b"\x00" in head:
        label = media_type or "no Content-Type"
        raise ContentTypeError(result.final_url, f"binary body labelled {label}")
