"""Response bodies: bounded decompression and HTML sniffing."""

from __future__ import annotations

import gzip
import zlib

import pytest

from pipeline.bodies import BoundedDecoder, check_html
from pipeline.errors import BodyTooLargeError, ContentTypeError, DecodingError
from pipeline.models import FetchResult


def test_bounded_decoder_stops_a_bomb_without_inflating_it():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    decoder = BoundedDecoder("gzip", "http://example.test/bomb", limit=1024 * 1024)
    with pytest.raises(BodyTooLargeError):
        for start in range(0, len(bomb), 65536):
            decoder.feed(bomb[start:start + 65536])
            assert decoder._size <= 1024 * 1024  # never holds more than the cap


@pytest.mark.parametrize("encoding, compress", [
    ("gzip", gzip.compress),
    ("deflate", zlib.compress),
    ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
    ("identity", lambda data: data),
])
def test_bounded_decoder_round_trips(encoding, compress):
    data = "Gipfel in Anchorage – Ergebnisse offen. ".encode() * 500
    decoder = BoundedDecoder(encoding, "http://example.test/", limit=len(data))
    payload = compress(data)
    for start in range(0, len(payload), 100):
        decoder.feed(payload[start:start + 100])
    assert decoder.finish() == data


def test_corrupt_gzip_is_a_decoding_error():
    decoder = BoundedDecoder("gzip", "http://example.test/", limit=1000)
    with pytest.raises(DecodingError, match="corrupt compressed body"):
        decoder.feed(b"\x1f\x8b\x08\x00garbage-not-deflate")


def test_unknown_content_encoding_is_refused():
    with pytest.raises(DecodingError, match="unsupported Content-Encoding 'br'"):
        BoundedDecoder("br", "http://example.test/", limit=1000)


@pytest.mark.parametrize("content_type, body, problem", [
    ("text/html; charset=utf-8", b"<!doctype html><html><p>Hi</p></html>", None),
    ("application/xhtml+xml", b"<html xmlns='http://www.w3.org/1999/xhtml'/>", None),
    ("", b"<html><p>No header, but HTML</p></html>", None),
    ("application/pdf", b"%PDF-1.7", "not an HTML page: Content-Type application/pdf"),
    ("text/html", b"%PDF-1.7 ...", "binary body labelled text/html"),
    ("text/html", b"\x89PNG\r\n\x1a\n", "binary body labelled text/html"),
    ("text/html", b"<html>\x00\x00</html>", "binary body labelled text/html"),
    ("", b"\x1f\x8b\x08\x00", "binary body labelled no Content-Type"),
])
def test_check_html(content_type, body, problem):
    result = FetchResult("http://x.test/a", "http://x.test/a", 200, body, content_type=content_type)
    if problem is None:
        check_html(result)
    else:
        with pytest.raises(ContentTypeError, match=problem):
            check_html(result)
