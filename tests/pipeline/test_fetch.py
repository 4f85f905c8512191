"""The fetcher against a real HTTP server on 127.0.0.1 (and pure rules in tables)."""

from __future__ import annotations

import ipaddress
import time
from datetime import datetime, timezone

import httpx
import pytest

from pipeline.errors import (
    BodyTooLargeError,
    ContentTypeError,
    FetchTimeoutError,
    HTTPStatusError,
    PrivateAddressError,
    RedirectError,
    RobotsDisallowedError,
)
from pipeline.fetch import Fetcher, is_public_address, parse_retry_after
from tests.conftest import make_settings

ARTICLE = "cbc/news/world/alaska-summit-analysis-1.7611001.html"


@pytest.mark.parametrize("address, public", [
    ("93.184.216.34", True),
    ("2606:4700::6810:85e5", True),
    ("127.0.0.1", False),             # loopback
    ("10.1.2.3", False),              # private
    ("172.16.0.9", False),
    ("192.168.1.1", False),
    ("100.64.0.1", False),            # carrier-grade NAT
    ("169.254.169.254", False),       # link-local: cloud metadata
    ("224.0.0.251", False),           # multicast
    ("240.0.0.1", False),             # reserved
    ("0.0.0.0", False),               # unspecified
    ("::1", False),
    ("fe80::1", False),
    ("fc00::1", False),               # unique local
    ("ff02::1", False),               # IPv6 multicast
    ("::ffff:127.0.0.1", False),      # IPv4-mapped loopback
    ("::ffff:10.0.0.1", False),
    ("::ffff:93.184.216.34", True),
    ("2002:0a00:0001::", False),      # 6to4 wrapping 10.0.0.1
    ("fec0::1", False),               # site-local (deprecated, still routed in some networks)
    ("64:ff9b::a00:7", False),        # NAT64 wrapping 10.0.0.7
    ("64:ff9b::5db8:d822", True),     # NAT64 wrapping 93.184.216.34
    ("::a00:7", False),               # IPv4-compatible (deprecated)
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),  # Teredo (its client side is 192.0.2.45)
    ("2001:db8::1", False),           # documentation
    ("100::1", False),                # discard-only
])
def test_address_classification(address, public):
    assert is_public_address(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize("header, seconds", [
    ("120", 120.0),
    ("0", 0.0),
    ("Sat, 16 Aug 2025 10:00:30 GMT", 30.0),
    ("Sat, 16 Aug 2025 09:00:00 GMT", 0.0),  # a date in the past: no wait
    ("soon", None),
    (None, None),
])
def test_retry_after_parsing(header, seconds):
    now = datetime(2025, 8, 16, 10, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after(header, now) == seconds


def test_feed_fetch_is_conditional_and_a_304_keeps_validators(server, tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        first = fetcher.fetch_feed(server.url("feeds/cbc-world.xml"))
        assert first.status == 200 and first.etag and first.last_modified
        second = fetcher.fetch_feed(server.url("feeds/cbc-world.xml"), etag=first.etag,
                                    last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    assert second.status == 304
    sent = [headers for path, headers in server.headers if path == "/feeds/cbc-world.xml"]
    assert sent[1]["if-none-match"] == first.etag
    assert sent[1]["if-modified-since"] == first.last_modified


def test_every_request_carries_our_user_agent(server, tmp_path):
    settings = make_settings(tmp_path, user_agent="newswatch-test/1.0 (+mailto:ops@example.test)")
    with Fetcher(settings) as fetcher:
        fetcher.fetch_feed(server.url("feeds/cbc-world.xml"))
        fetcher.fetch_page(server.url(ARTICLE))
    assert {h["user-agent"] for _, h in server.headers} == {settings.user_agent}
    assert [path for path, _ in server.headers] == ["/feeds/cbc-world.xml", "/robots.txt", "/" + ARTICLE]


def test_gzip_bomb_is_cut_off_at_the_cap(server, tmp_path):
    with Fetcher(make_settings(tmp_path, max_body_bytes=2 * 1024 * 1024)) as fetcher:
        with pytest.raises(BodyTooLargeError, match="larger than 2097152 bytes"):
            fetcher.fetch_page(server.url("fault/gzip-bomb"))


def test_huge_page_is_cut_off_at_the_cap(server, tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:  # the default cap: 10 MiB
        with pytest.raises(BodyTooLargeError):
            fetcher.fetch_page(server.url("fault/huge-page"))


@pytest.mark.parametrize("fault, target", [
    ("redirect-private", "10.0.0.7"),
    ("redirect-metadata", "169.254.169.254"),
    ("redirect-mapped", "::ffff:10.1.2.3"),
])
def test_redirect_to_a_private_address_is_refused(server, tmp_path, fault, target):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        with pytest.raises(PrivateAddressError, match=target.replace(".", r"\.")):
            fetcher.fetch_page(server.url(f"fault/{fault}"))


def test_loopback_is_refused_unless_allowed(server, tmp_path):
    with Fetcher(make_settings(tmp_path, allowed_private_hosts="10.0.0.0/8")) as fetcher:
        with pytest.raises(PrivateAddressError, match="127.0.0.1"):
            fetcher.fetch_feed(server.url("feeds/cbc-world.xml"))
    assert server.count() == 0  # refused before any connection


def test_a_host_name_resolving_to_a_private_address_is_refused(tmp_path):
    def resolver(host, port):
        return ["93.184.216.34", "10.9.9.9"]  # one bad address is enough to refuse

    with Fetcher(make_settings(tmp_path), resolver=resolver) as fetcher:
        with pytest.raises(PrivateAddressError, match="10.9.9.9"):
            fetcher.fetch_page("http://rebind.example.test/article")


def test_the_connection_goes_to_the_address_that_was_checked(server, tmp_path):
    port = server.base.rsplit(":", 1)[1]
    answers = [["127.0.0.1"], ["10.0.0.7"]]  # a rebinding resolver: harmless first, then inside
    asked: list[str] = []

    def resolver(host, port):
        asked.append(host)
        return answers[min(len(asked), 2) - 1]

    with Fetcher(make_settings(tmp_path), resolver=resolver) as fetcher:
        result = fetcher.fetch_feed(f"http://rebind.test:{port}/feeds/cbc-world.xml")
    assert result.status == 200 and asked == ["rebind.test"]  # one lookup, and its address used
    assert server.headers[-1][1]["host"] == f"rebind.test:{port}"  # the name still goes in Host


def test_an_internationalized_host_is_resolved_as_it_is_connected_to(server, tmp_path):
    port = server.base.rsplit(":", 1)[1]
    asked: list[str] = []

    def resolver(host, port):
        asked.append(host)
        return ["127.0.0.1"] if host == "xn--strae-oqa.test" else ["10.0.0.7"]

    with Fetcher(make_settings(tmp_path), resolver=resolver) as fetcher:
        fetcher.fetch_feed(f"http://straße.test:{port}/feeds/cbc-world.xml")
    assert asked == ["xn--strae-oqa.test"]  # IDNA 2008, as httpx sends it; never "strasse.test"


def test_a_site_local_address_is_refused(tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        with pytest.raises(PrivateAddressError, match="fec0::7"):
            fetcher.fetch_page("http://[fec0::7]/admin")


def test_redirect_loop_is_reported(server, tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        with pytest.raises(RedirectError, match="redirect loop"):
            fetcher.fetch_page(server.url("fault/redirect-loop"))


def test_too_many_redirects_are_refused(tmp_path):
    def handler(request: httpx.Request) -> httpx.Response:
        hop = int(request.url.path.strip("/") or 0)
        return httpx.Response(302, headers={"Location": f"/{hop + 1}"})

    settings = make_settings(tmp_path, max_redirects=3, allowed_private_hosts="example.test")
    with Fetcher(settings, transport=httpx.MockTransport(handler)) as fetcher:
        fetcher._robots["http://example.test"] = (time.monotonic(), True)
        with pytest.raises(RedirectError, match="more than 3 redirects"):
            fetcher.fetch_page("http://example.test/0")


def test_robots_txt_disallow_is_honoured_and_cached(server, tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        with pytest.raises(RobotsDisallowedError):
            fetcher.fetch_page(server.url("private/internal-memo.html"))
        fetcher.fetch_page(server.url(ARTICLE))
    assert server.requests["/private/internal-memo.html"] == 0
    assert server.requests["/robots.txt"] == 1


def test_a_subscribed_feed_is_fetched_without_robots_txt(server, tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        fetcher.fetch_feed(server.url("feeds/cbc-world.xml"))
    assert server.requests["/robots.txt"] == 0


def test_binary_body_labelled_html_is_refused(server, tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        with pytest.raises(ContentTypeError, match="binary body labelled text/html"):
            fetcher.fetch_page(server.url("fault/binary-page"))


def test_a_feed_is_not_accepted_as_a_page(server, tmp_path):
    with Fetcher(make_settings(tmp_path)) as fetcher:
        with pytest.raises(ContentTypeError, match="application/rss\\+xml"):
            fetcher.fetch_page(server.url("feeds/cbc-world.xml"))


def test_429_with_retry_after_is_waited_for_then_retried(server, tmp_path):
    waits: list[float] = []
    with Fetcher(make_settings(tmp_path, fetch_retries=2), sleep=waits.append) as fetcher:
        result = fetcher.fetch_feed(server.url("fault/busy-then-fine"))
    assert result.status == 200
    assert waits == [1.0]  # exactly the server's Retry-After
    assert server.requests["/fault/busy-then-fine"] == 2


def test_retry_after_longer_than_we_wait_gives_up_with_it(server, tmp_path):
    waits: list[float] = []
    settings = make_settings(tmp_path, fetch_retries=3, max_retry_after=0.5)
    with Fetcher(settings, sleep=waits.append) as fetcher:
        with pytest.raises(HTTPStatusError) as caught:
            fetcher.fetch_feed(server.url("fault/429"))
    assert caught.value.status == 429 and caught.value.retry_after == 1.0
    assert waits == [] and server.requests["/fault/429"] == 1


def test_5xx_is_retried_with_exponential_backoff_and_jitter(server, tmp_path):
    waits: list[float] = []
    settings = make_settings(tmp_path, fetch_retries=3, retry_backoff=1.0)
    with Fetcher(settings, sleep=waits.append, jitter=lambda: 1.0) as fetcher:
        with pytest.raises(HTTPStatusError, match="HTTP 500"):
            fetcher.fetch_feed(server.url("fault/500"))
    assert waits == [1.0, 2.0, 4.0]
    assert server.requests["/fault/500"] == 4


def test_4xx_is_not_retried(server, tmp_path):
    with Fetcher(make_settings(tmp_path, fetch_retries=3)) as fetcher:
        with pytest.raises(HTTPStatusError, match="HTTP 404"):
            fetcher.fetch_page(server.url("no/such/page.html"))
    assert server.requests["/no/such/page.html"] == 1


@pytest.mark.parametrize("fault", ["hang", "trickle", "trickle-headers"])
def test_a_slow_server_hits_the_total_deadline(server, tmp_path, fault):
    server.hang_seconds = 6
    settings = make_settings(tmp_path, fetch_timeout=1.5, fetch_retries=0)
    started = time.monotonic()
    with Fetcher(settings) as fetcher:
        with pytest.raises(FetchTimeoutError):
            fetcher.fetch_page(server.url(f"fault/{fault}"))
    assert time.monotonic() - started < 4  # the deadline, not the server, decided


def test_requests_to_one_host_are_spaced(server, tmp_path):
    clock = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))
        clock[0] += seconds

    with Fetcher(make_settings(tmp_path, host_delay=2), sleep=sleep, clock=lambda: clock[0]) as fetcher:
        fetcher.fetch_feed(server.url("feeds/cbc-world.xml"))
        fetcher.fetch_page(server.url(ARTICLE))  # robots.txt, then the page
        fetcher.fetch_feed(server.url("feeds/harbourpost.xml"))
    assert waits == [2.0, 2.0, 2.0]
