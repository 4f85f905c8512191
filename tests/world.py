"""The fixture world's manifest (tests/fixtures/world/world.toml) and feed lists for it."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.fixtureserver import WORLD, FixtureServer

MANIFEST = tomllib.loads((WORLD / "world.toml").read_text(encoding="utf-8"))
FEEDS = MANIFEST["feed"]
ARTICLES = MANIFEST["article"]
KEPT_BOILERPLATE = {b["outlet"]: tuple(b["phrases"]) for b in MANIFEST["kept_boilerplate"]}
# Feeds whose server misbehaves, and feeds whose items point at misbehaving pages.
FAULTY_FEEDS = {
    "fault-500": ("fault/500", "HTTP 500"),
    "fault-429": ("fault/429", "HTTP 429, Retry-After 1 s"),
    "fault-hang": ("fault/hang", "timed out"),
    "fault-not-a-feed": ("fault/not-a-feed", "not an RSS or Atom feed"),
    "fault-malformed": ("fault/malformed.xml", "malformed feed: SAXParseException"),
    "fault-private-redirect": ("fault/redirect-private", "non-public address 10.0.0.7"),
}


def article(key: str) -> dict:
    return next(a for a in ARTICLES if a["key"] == key)


def write_feed_list(path: Path, server: FixtureServer, *, faults: bool = False, reverse: bool = False) -> Path:
    """A feeds.toml with every world feed (and, if asked, the faulty ones) on ``server``;
    ``reverse``: the world's feeds in the opposite order."""
    tables = [(f["name"], server.url(f["path"]), f["outlet"], f["language"])
              for f in (reversed(FEEDS) if reverse else FEEDS)]
    if faults:
        tables += [(name, server.url(route), "Faults", "en") for name, (route, _) in FAULTY_FEEDS.items()]
        tables.append(("fault-pages", server.url("fault/faulty-pages.xml"), "Faults", "en"))
        tables.append(("fault-charset", server.url("fault/wrong-charset.xml"), "Faults", "ru"))
    path.write_text("".join(
        f'[[feed]]\nname = "{name}"\nurl = "{url}"\noutlet = "{outlet}"\nlanguage = "{language}"\n\n'
        for name, url, outlet, language in tables), encoding="utf-8")
    return path
