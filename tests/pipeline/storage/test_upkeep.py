"""Feed health as polls happen, on SQLite and PostgreSQL, through the fixture server.

No maintenance runs here after the feeds exist: each poll records its feed's verdict, and
``newswatch feeds`` assesses feeds as it reads them.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from pipeline.run import poll_one
from pipeline.storage.queries import feed_health
from tests.conftest import make_settings
from tests.fixtureserver import WORLD

GOOD = (WORLD / "feeds" / "cbc-world.xml").read_text(encoding="utf-8")
# Readable, with a warning: feedparser's strict parser gives up, its loose one keeps the entries.
MALFORMED = GOOD.replace("</channel>", "<item><title>Bad <b>unclosed</title></item></channel>", 1)
UNREADABLE = "<html><body><p>Our feeds have moved.</p></body></html>"


@pytest.fixture
def world(tmp_path, server, database_url):
    settings = make_settings(tmp_path, database_url)
    assert main(["init", "--database-url", database_url, "--baseline", str(settings.baseline_dir)]) == 0
    # the first maintenance ran before any feed existed (as on a fresh ./dev up)
    assert main(["maintain", "--database-url", database_url]) == 0
    (tmp_path / "feeds.toml").write_text(
        f'[[feed]]\nname = "wire"\nurl = "{server.url("wire/feed.xml")}"\noutlet = "CBC"\nlanguage = "en"\n\n'
        f'[[feed]]\nname = "down"\nurl = "{server.url("fault/500")}"\noutlet = "Faults"\nlanguage = "en"\n',
        encoding="utf-8")
    engine = create_engine(database_url)
    yield settings, engine
    engine.dispose()


def serve(server, tmp_path, body: str):
    path = tmp_path / f"served-{len(list(tmp_path.glob('served-*')))}.xml"
    path.write_text(body, encoding="utf-8")
    server.replaced["/wire/feed.xml"] = path
    return path


def health(engine) -> dict[str, tuple]:
    """Per feed: (last status, health as read now, health as stored by the last poll)."""
    live = {row["feed"]: row for row in feed_health(engine)}
    with engine.connect() as connection:
        stored = dict(connection.execute(text("select name, health from feeds")).all())
    return {name: (row["status"], row["health"], stored[name]) for name, row in live.items()}


def test_health_follows_every_poll_without_maintenance(world, server, tmp_path, capsys):
    settings, engine = world
    serve(server, tmp_path, GOOD)
    poll_one(settings, "wire")
    poll_one(settings, "down")
    assert health(engine) == {"wire": ("ok", "ok", "ok"), "down": ("error", "failing", "failing")}
    serve(server, tmp_path, UNREADABLE)
    for _ in range(4):  # minutes after a success, four failures: not "ok"
        assert poll_one(settings, "wire").status == "error"
    assert health(engine)["wire"] == ("error", "failing", "failing")
    [row] = [r for r in feed_health(engine) if r["feed"] == "wire"]
    assert row["failures"] == 4 and "4 failed polls in a row" in row["health_note"]
    assert main(["feeds", "--database-url", settings.database_url]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("│ wire ", "│ down "))]
    assert len(rows) == 2 and all(line.split("│")[4].strip() == "failing" for line in rows)


def test_a_malformed_feed_that_answers_304_stays_unhealthy(world, server, tmp_path):
    settings, engine = world
    serve(server, tmp_path, MALFORMED)
    assert poll_one(settings, "wire").status == "ok"
    assert health(engine)["wire"] == ("ok", "warning", "warning")
    for _ in range(2):
        assert poll_one(settings, "wire").status == "not_modified"
        assert health(engine)["wire"] == ("not_modified", "warning", "warning")
    [row] = [r for r in feed_health(engine) if r["feed"] == "wire"]
    assert "mismatched tag" in row["health_note"]
    serve(server, tmp_path, GOOD)  # mended
    assert poll_one(settings, "wire").status == "ok"
    assert health(engine)["wire"] == ("ok", "ok", "ok")


def test_after_an_unreadable_body_the_feed_is_read_whole_again(world, server, tmp_path):
    settings, engine = world
    first = serve(server, tmp_path, GOOD)
    assert poll_one(settings, "wire").status == "ok"
    serve(server, tmp_path, UNREADABLE)
    failed = poll_one(settings, "wire")
    assert failed.status == "error" and failed.http_status == 200  # the body came, but is no feed
    server.replaced["/wire/feed.xml"] = first  # back to the first body
    server.reset_counts()
    again = poll_one(settings, "wire")
    # the stored validators were the first body's, yet they are not sent: no 304 to hide behind
    [(_, headers)] = [(p, h) for p, h in server.headers if p == "/wire/feed.xml"]
    assert "if-none-match" not in headers and "if-modified-since" not in headers
    assert again.status == "ok" and health(engine)["wire"] == ("ok", "ok", "ok")
