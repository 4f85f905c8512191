"""Reading what the pipeline starts from: the feed list and the baseline article.

Every problem names the file and the entry at fault. Nothing here touches the network
or the database.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.errors import SettingsError
from pipeline.language import normalize_language_code
from pipeline.models import FeedConfig
from pipeline.settings import parse_duration
from pipeline.urls import clean_url

DEFAULT_INTERVAL = "15m"


@dataclass(frozen=True)
class Baseline:
    """The seed article every other article is compared with."""

    key: str
    title: str
    text: str
    outlet: str
    language: str
    translated_from: str | None
    published_at: datetime
    url: str


def load_feeds(path: Path, names: Collection[str] | None = None) -> tuple[FeedConfig, ...]:
    """Every ``[[feed]]`` of a feed list, validated; with ``names``, only those feeds (a task
    polling a few feeds of a long list validates only its own)."""
    data = _read_toml(path)
    tables = data.get("feed")
    if not isinstance(tables, list) or not tables:
        raise SettingsError(f"{path}: no [[feed]] tables")
    wanted = None if names is None else set(names)
    feeds = tuple(_feed_config(path, index, table) for index, table in enumerate(tables, 1)
                  if wanted is None or (isinstance(table, dict) and str(table.get("name", "")).strip() in wanted))
    seen: set[str] = set()
    for feed in feeds:
        if feed.name in seen:
            raise SettingsError(f"{path}: feed name {feed.name!r} is used twice")
        seen.add(feed.name)
    return feeds


def _feed_config(path: Path, index: int, table: dict[str, Any]) -> FeedConfig:
    where = f"{path}: feed #{index}"
    for key in ("name", "url", "outlet"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise SettingsError(f"{where} needs a non-empty string {key!r}")
    where = f"{path}: feed {table['name']!r}"
    try:
        clean_url(table["url"])
        interval = parse_duration(str(table.get("interval", DEFAULT_INTERVAL)))
    except ValueError as error:
        raise SettingsError(f"{where}: {error}") from None
    language = table.get("language")
    if language is not None and normalize_language_code(str(language)) is None:
        raise SettingsError(f"{where}: language {language!r} is not an ISO 639-1 code")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise SettingsError(f"{where}: enabled must be true or false, not {enabled!r}")
    return FeedConfig(
        name=table["name"].strip(), url=table["url"].strip(), outlet=table["outlet"].strip(),
        language=normalize_language_code(str(language)) if language else None,
        enabled=enabled, interval=interval,
    )


def load_baseline(directory: Path) -> Baseline:
    """The baseline described by ``baseline.toml`` in ``directory``; its text as given."""
    meta_path = directory / "baseline.toml"
    meta = _read_toml(meta_path)
    try:
        text_path = directory / meta["file"]
        text = text_path.read_text(encoding="utf-8")
        published = meta["published"]
        if isinstance(published, date) and not isinstance(published, datetime):
            published = datetime(published.year, published.month, published.day, tzinfo=timezone.utc)
        elif published.tzinfo is None:
            published = published.replace(tzinfo=timezone.utc)
        title = text.strip().splitlines()[0].strip()
        return Baseline(
            key=meta["key"], title=title, text=text, outlet=meta["outlet"],
            language=meta["language"], translated_from=meta.get("translated_from"),
            published_at=published, url=meta["url"],
        )
    except KeyError as error:
        raise SettingsError(f"{meta_path}: missing key {error.args[0]!r}") from None
    except (OSError, IndexError, AttributeError, TypeError) as error:
        raise SettingsError(f"{meta_path}: unusable baseline: {error}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: not valid TOML: {error}") from None
