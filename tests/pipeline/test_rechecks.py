"""Re-checks the feed asks for: a known entry that comes back changed gets its page looked
at in the same poll (conditionally), and a new version when the page changed too.

Through the fixture server, on SQLite and PostgreSQL. Scheduled re-checks are switched
off (``recheck_until=0``, as for an article past its re-check window), so every page
request here is one the feed asked for.
"""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from pipeline.run import run_cycle
from tests.conftest import make_settings
from tests.world import FEEDS, article

FEED = next(f for f in FEEDS if f["name"] == "cbc-topstories")
ITEM = article("v")  # the CBC piece that has a second version in the fixture world
TITLE = "Ottawa weighs role for Canadian troops if a Ukraine ceasefire takes hold"


@pytest.fixture
def world(tmp_path, server, database_url):
    (tmp_path / "feeds.toml").write_text(
        f'[[feed]]\nname = "{FEED["name"]}"\nurl = "{server.url(FEED["path"])}"\noutlet = "{FEED["outlet"]}"\n'
        f'language = "en"\n', encoding="utf-8")
    settings = make_settings(tmp_path, database_url, recheck_until=0)
    assert main(["init", "--database-url", database_url, "--baseline", str(settings.baseline_dir)]) == 0
    first = run_cycle(settings)
    assert first.feeds[0].status == "ok" and first.feeds[0].new >= 3
    engine = create_engine(database_url)
    yield settings, engine
    engine.dispose()


def feed_saying(server, tmp_path, old: str, new: str) -> None:
    """Serve the feed as it is now served with one of its passages rewritten."""
    original = server.replaced.get(f"/{FEED['path']}", server.root / FEED["path"]).read_text(encoding="utf-8")
    assert old in original
    changed = tmp_path / f"changed-{len(server.replaced)}.xml"
    changed.write_text(original.replace(old, new, 1), encoding="utf-8")
    server.replaced[f"/{FEED['path']}"] = changed


def stored(engine) -> dict:
    with engine.connect() as connection:
        row = connection.execute(text("select id, version, title, text from articles where canonical_url "
                                      "like :url"), {"url": f"%{ITEM['canonical']}"}).one()
        versions = connection.execute(text("select count(*) from article_versions")).scalar()
        alerts = connection.execute(text("select count(*) from alerts")).scalar()
        signature = connection.execute(text("select signature from entries where article_id = :id"),
                                       {"id": row.id}).scalar()
    return {**row._mapping, "versions": versions, "alerts": alerts, "signature": signature}


def poll(settings, server, engine) -> int:
    """Poll the whole feed again (its validators forgotten, so no 304); how many article
    pages were requested."""
    with engine.begin() as connection:
        connection.execute(text("update feeds set etag = null, last_modified = null"))
    server.reset_counts()
    report = run_cycle(settings, force=True).feeds[0]
    assert report.status == "ok", report
    return server.count("/cbc/")


def test_a_retitled_entry_is_fetched_at_once_and_becomes_version_two(world, server, tmp_path):
    settings, engine = world
    before = stored(engine)
    server.replaced[f"/{ITEM['path']}"] = server.root / ITEM["v2_path"]
    feed_saying(server, tmp_path, f"<![CDATA[{TITLE}]]>", f"<![CDATA[{ITEM['v2_title']}]]>")
    assert poll(settings, server, engine) == 1  # that page only: the unchanged entries cost nothing
    [(path, headers)] = [(p, h) for p, h in server.headers if p.startswith("/cbc/")]
    assert path == f"/{ITEM['path']}" and "if-none-match" in headers  # conditional, with the stored ETag
    after = stored(engine)
    assert after["id"] == before["id"] and after["version"] == 2 and after["title"] == ITEM["v2_title"]
    assert ITEM["v2_added_phrase"] in after["text"] and after["versions"] == before["versions"] + 1
    assert after["alerts"] == before["alerts"]  # a new version alerts nobody again
    assert after["signature"] != before["signature"]
    assert poll(settings, server, engine) == 0  # the feed says the same again: nothing to look at
    assert stored(engine) == after


@pytest.mark.parametrize("old, new", [
    ("<pubDate>Sun, 17 Aug 2025 16:45:00 EDT</pubDate>",  # atom:updated, the feed's word for a change
     '<pubDate>Sun, 17 Aug 2025 16:45:00 EDT</pubDate><atom:updated xmlns:atom="http://www.w3.org/2005/Atom">'
     "2025-08-18T08:00:00Z</atom:updated>"),
    ("help monitor a ceasefire in Ukraine.", "help monitor a ceasefire in Ukraine, officials said."),
])
def test_a_changed_entry_whose_page_did_not_change_records_no_version(world, server, tmp_path, old, new):
    settings, engine = world
    before = stored(engine)
    feed_saying(server, tmp_path, old, new)
    assert poll(settings, server, engine) == 1
    [headers] = [h for p, h in server.headers if p == f"/{ITEM['path']}"]
    assert "if-none-match" in headers  # and the page answered 304
    after = stored(engine)
    assert after["version"] == 1 and after["versions"] == before["versions"] == 0
    assert after["title"] == before["title"] and after["alerts"] == before["alerts"]
    assert after["signature"] != before["signature"]  # looked at: not asked again
    assert poll(settings, server, engine) == 0


def test_entries_stored_before_signatures_are_signed_without_a_fetch(world, server, tmp_path):
    settings, engine = world
    with engine.begin() as connection:
        connection.execute(text("update entries set signature = null"))
    feed_saying(server, tmp_path, "<![CDATA[Ukraine and Russia swap 146", "<![CDATA[Ukraine, Russia swap 146")
    assert poll(settings, server, engine) == 0  # nothing to compare with yet: remembered, not fetched
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from entries where signature is null")).scalar() == 0
    server.replaced[f"/{ITEM['path']}"] = server.root / ITEM["v2_path"]
    feed_saying(server, tmp_path, f"<![CDATA[{TITLE}]]>", f"<![CDATA[{ITEM['v2_title']}]]>")
    assert poll(settings, server, engine) == 1 and stored(engine)["version"] == 2


def test_feed_signalled_checks_are_bounded_per_poll(world, server, tmp_path):
    settings, engine = world
    original = (server.root / FEED["path"]).read_text(encoding="utf-8")
    everything = tmp_path / "everything-changed.xml"  # every entry's summary rewritten
    everything.write_text(original.replace("</p><p></p>]]>", " (updated)</p>]]>"), encoding="utf-8")
    server.replaced[f"/{FEED['path']}"] = everything
    with engine.connect() as connection:
        pages = connection.execute(text("select count(distinct article_id) from entries")).scalar()
    one_a_poll = dataclasses.replace(settings, rechecks_per_poll=1)
    # the rest wait for the next polls, still known as changed; then the feed has no more to say
    assert [poll(one_a_poll, server, engine) for _ in range(pages + 1)] == [1] * pages + [0]
