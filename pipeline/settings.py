"""Typed settings, read once from ``NEWSWATCH_*`` variables and CLI overrides.

``Settings.load`` validates every value and raises ``SettingsError`` naming the variable
and the bad value. Nothing else in newswatch reads the environment: the settings object
is passed explicitly to whatever needs it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pipeline.boilerplate import MIN_ARTICLES
from pipeline.errors import SettingsError

PREFIX = "NEWSWATCH_"
DEFAULT_USER_AGENT = "newswatch/0.1 (news monitoring; +https://github.com/newswatch/newswatch)"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}

MIN_TOKEN_LENGTH = 16
MAX_DEFAULT_WORKERS = 4
_SECRETS = frozenset({"web_token"})  # their values never appear in messages

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# Variables whose names are not simply the field's name in capitals (DESIGN.md's contract).
_VARIABLE_NAMES = {"feeds_path": "FEEDS", "topics_path": "TOPICS", "baseline_dir": "BASELINE"}


def variable_name(field_name: str) -> str:
    """The environment variable that sets ``field_name``, e.g. ``NEWSWATCH_FEEDS``."""
    return PREFIX + _VARIABLE_NAMES.get(field_name, field_name.upper())


def flag_name(field_name: str) -> str:
    """The command-line flag that overrides ``field_name``, e.g. ``--feeds``."""
    return "--" + _VARIABLE_NAMES.get(field_name, field_name.upper()).lower().replace("_", "-")


def setting_names() -> list[str]:
    return [spec.name for spec in fields(Settings)]


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"30s"``, ``"15m"``, ``"6h"`` or ``"1d"``; ValueError otherwise."""
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 15m, 6h)")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


@dataclass(frozen=True)
class PrivateHostAllowance:
    """Hosts and address ranges the fetcher may reach although they are private."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    def allows_host(self, host: str) -> bool:
        return host.lower().strip("[]") in self.hosts

    def allows_address(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class Settings:
    database_url: str
    data_dir: Path
    feeds_path: Path
    topics_path: Path
    baseline_dir: Path
    alert_urls: tuple[str, ...] = ()
    operator_alert_urls: tuple[str, ...] = ()
    web_url: str | None = None
    web_token: str | None = field(default=None, repr=False)  # a secret: never printed
    allowed_private_hosts: PrivateHostAllowance = PrivateHostAllowance()
    host_delay: float = 1.0
    fetch_timeout: float = 30.0
    connect_timeout: float = 10.0
    user_agent: str = DEFAULT_USER_AGENT
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    fetch_retries: int = 2
    retry_backoff: float = 1.0
    max_retry_after: float = 60.0
    max_entries: int = 200  # new entries one poll takes; the rest, newest first, wait for the next
    poll_budget: float = 300.0  # seconds one poll may spend fetching pages; the rest wait too
    max_feed_backoff: float = 6 * 3600.0
    poll_retention: float = 30 * 86400.0
    recheck_first: float = 1800.0
    recheck_until: float = 3 * 86400.0
    rechecks_per_poll: int = 20
    digest_window: float = 3600.0
    alert_attempts: int = 6
    alert_backoff: float = 60.0
    delivery_timeout: float = 30.0
    poll_tasks: int = 64  # most tasks a poll run maps; more due feeds are polled in batches (bench/poll_task.py)
    poll_failed_share: float = 0.5  # a poll run in which more than this share of its feeds failed fails
    boilerplate_articles: int = MIN_ARTICLES  # a paragraph in this many of an outlet's articles is boilerplate; 0: off
    workers: int = field(default_factory=lambda: default_workers())  # processes `newswatch run` polls in

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from ``environ`` (default ``os.environ``); non-None overrides win."""
        env = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        for spec in fields(cls):
            variable = variable_name(spec.name)
            if overrides.get(spec.name) is not None:
                raw[spec.name] = (flag_name(spec.name), overrides[spec.name])
            elif variable in env and env[variable].strip() != "":
                raw[spec.name] = (variable, env[variable])
        values = {name: _convert(name, variable, value) for name, (variable, value) in raw.items()}
        data_dir = values.setdefault("data_dir", Path("data"))
        values.setdefault("feeds_path", _seed("feeds.toml"))
        values.setdefault("topics_path", _seed("topics.toml"))
        values.setdefault("baseline_dir", _seed("baseline"))
        values.setdefault("database_url", f"sqlite:///{(data_dir / 'newswatch.db').absolute()}")
        return cls(**values)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _convert(name: str, source: str, value: Any) -> Any:
    """``value`` as the field ``name`` wants it; ``source`` (variable or flag) names it in errors
    (with the bad value, unless it is a secret)."""
    converter = _CONVERTERS.get(name, str)
    try:
        return converter(value)
    except (ValueError, TypeError) as error:
        shown = "(secret, not shown)" if name in _SECRETS else repr(value)
        raise SettingsError(f"{source}={shown} is invalid: {error}") from None


def _positive(kind: Callable[[Any], Any], *, allow_zero: bool = False) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        number = kind(value)
        if number < 0 or (number == 0 and not allow_zero):
            raise ValueError("must be " + ("zero or more" if allow_zero else "more than zero"))
        return number

    return convert


def _seconds(*, allow_zero: bool = False) -> Callable[[Any], float]:
    return _positive(lambda value: value if isinstance(value, (int, float)) else parse_duration(value),
                     allow_zero=allow_zero)


def _share(value: Any) -> float:
    share = float(value)
    if not 0.0 <= share <= 1.0:
        raise ValueError("must be a share between 0 and 1 (0.5: half)")
    return share


def _url_list(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,]+", str(value))
    urls = tuple(item.strip() for item in items if item.strip())
    for url in urls:
        if "://" not in url:
            raise ValueError(f"{url!r} is not an Apprise URL (scheme://…)")
    return urls


def _database_url(value: Any) -> str:
    try:
        url: URL = make_url(str(value))
    except ArgumentError as error:
        raise ValueError(str(error)) from None
    backend = url.get_backend_name()
    if backend in ("postgres", "postgresql"):
        # psycopg 3 is the driver we ship; accept the bare scheme other tools print.
        url = url.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise ValueError("only sqlite:/// and postgresql+psycopg:// databases are supported")
    return url.render_as_string(hide_password=False)


def _token(value: Any) -> str:
    text = str(value).strip()
    if len(text) < MIN_TOKEN_LENGTH:
        raise ValueError(f"a token needs at least {MIN_TOKEN_LENGTH} characters")
    if not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError("a token may not contain spaces or control characters")
    return text


def _private_hosts(value: Any) -> PrivateHostAllowance:
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,]+", str(value))
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for item in (i.strip() for i in items if i.strip()):
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            if not re.fullmatch(r"[A-Za-z0-9.-]+", item):
                raise ValueError(f"{item!r} is neither a host name nor an address range") from None
            hosts.add(item.lower())
    return PrivateHostAllowance(frozenset(hosts), tuple(networks))


def _optional_url(value: Any) -> str | None:
    text = str(value).strip()
    if text and not re.match(r"^https?://", text):
        raise ValueError("must start with http:// or https://")
    return text.rstrip("/") or None


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "database_url": _database_url,
    "data_dir": Path,
    "feeds_path": Path,
    "topics_path": Path,
    "baseline_dir": Path,
    "alert_urls": _url_list,
    "operator_alert_urls": _url_list,
    "web_url": _optional_url,
    "web_token": _token,
    "allowed_private_hosts": _private_hosts,
    "host_delay": _seconds(allow_zero=True),
    "fetch_timeout": _seconds(),
    "connect_timeout": _seconds(),
    "user_agent": lambda value: str(value).strip() or DEFAULT_USER_AGENT,
    "max_body_bytes": _positive(int),
    "max_redirects": _positive(int, allow_zero=True),
    "fetch_retries": _positive(int, allow_zero=True),
    "retry_backoff": _seconds(allow_zero=True),
    "max_retry_after": _seconds(allow_zero=True),
    "max_entries": _positive(int),
    "poll_budget": _seconds(),
    "max_feed_backoff": _seconds(),
    "poll_retention": _seconds(),
    "recheck_first": _seconds(allow_zero=True),
    "recheck_until": _seconds(allow_zero=True),
    "rechecks_per_poll": _positive(int, allow_zero=True),
    "digest_window": _seconds(),
    "alert_attempts": _positive(int),
    "alert_backoff": _seconds(allow_zero=True),
    "delivery_timeout": _seconds(),
    "boilerplate_articles": _positive(int, allow_zero=True),
    "workers": _positive(int),
    "poll_tasks": _positive(int),
    "poll_failed_share": _share,
}


def default_workers() -> int:
    """One process per core, at most ``MAX_DEFAULT_WORKERS``: each holds its own models (~0.7 GB)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def _seed(name: str) -> Path:
    """``seeds/NAME`` in the working directory, else the one beside this package (a checkout
    with ``pip install -e``), so that ``newswatch`` works from any directory."""
    here = Path("seeds") / name
    if here.exists():
        return here
    shipped = Path(__file__).resolve().parent.parent / "seeds" / name
    return shipped if shipped.exists() else here
