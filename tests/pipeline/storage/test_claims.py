"""Fetch claims on SQLite and PostgreSQL: one poll per page at a time, expired claims taken over."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pipeline.storage.claims import CLAIM_TTL, claim_urls, release_urls
from pipeline.storage.engine import create_database_engine, migrate

T = datetime(2025, 8, 16, 12, tzinfo=timezone.utc)
URLS = [f"https://x.test/{n}" for n in range(3)]


@pytest.fixture
def engine(database_url):
    engine = create_database_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_a_page_another_poll_is_fetching_is_left_alone(engine):
    assert claim_urls(engine, URLS[:2], "first", T) == set(URLS[:2])
    assert claim_urls(engine, URLS, "second", T + timedelta(minutes=1)) == {URLS[2]}
    assert claim_urls(engine, URLS[:2], "first", T + timedelta(minutes=2)) == set(URLS[:2])  # its own again


def test_released_and_expired_claims_are_free_again(engine):
    claim_urls(engine, URLS, "first", T)
    release_urls(engine, URLS[:1], "first")
    release_urls(engine, URLS[1:2], "someone else")  # not theirs to release
    assert claim_urls(engine, URLS, "second", T + timedelta(minutes=1)) == {URLS[0]}
    later = T + CLAIM_TTL + timedelta(seconds=1)  # the first poller died
    assert claim_urls(engine, URLS, "third", later) == set(URLS[1:])
