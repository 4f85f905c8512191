"""Settings: environment variables, CLI overrides, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import SettingsError
from pipeline.settings import Settings, parse_duration, variable_name


def test_defaults_are_the_embedded_setup():
    settings = Settings.load(environ={})
    assert settings.database_url == f"sqlite:///{Path('data/newswatch.db').absolute()}"
    assert settings.feeds_path == Path("seeds/feeds.toml")
    assert settings.topics_path == Path("seeds/topics.toml")
    assert settings.host_delay == 1.0 and settings.fetch_timeout == 30.0
    assert settings.max_body_bytes == 10 * 1024 * 1024
    assert settings.alert_urls == () and settings.allowed_private_hosts.networks == ()
    assert settings.delivery_timeout == 30.0


def test_environment_is_read_and_overrides_win():
    env = {"NEWSWATCH_DATA_DIR": "/srv/nw", "NEWSWATCH_FEEDS": "/etc/nw/feeds.toml",
           "NEWSWATCH_HOST_DELAY": "0", "NEWSWATCH_FETCH_TIMEOUT": "2m",
           "NEWSWATCH_ALERT_URLS": "json://127.0.0.1:9000/hook, mailto://ops@example.test",
           "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1, 10.0.0.0/8,localhost"}
    settings = Settings.load(environ=env, feeds_path="other.toml")
    assert settings.database_url == "sqlite:////srv/nw/newswatch.db"
    assert settings.feeds_path == Path("other.toml")
    assert settings.host_delay == 0 and settings.fetch_timeout == 120
    assert settings.alert_urls == ("json://127.0.0.1:9000/hook", "mailto://ops@example.test")
    allowance = settings.allowed_private_hosts
    assert allowance.allows_host("localhost") and not allowance.allows_host("10.0.0.1")
    assert [str(n) for n in allowance.networks] == ["127.0.0.1/32", "10.0.0.0/8"]


@pytest.mark.parametrize("given, stored", [
    ("postgresql://postgres@127.0.0.1:5432/news", "postgresql+psycopg://postgres@127.0.0.1:5432/news"),
    ("postgres://u:secret@db/news", "postgresql+psycopg://u:secret@db/news"),
    ("postgresql+psycopg://u@db/news", "postgresql+psycopg://u@db/news"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_urls_are_normalised_to_our_driver(given, stored):
    assert Settings.load(environ={"NEWSWATCH_DATABASE_URL": given}).database_url == stored


@pytest.mark.parametrize("variable, value, message", [
    ("NEWSWATCH_FETCH_TIMEOUT", "soon", "NEWSWATCH_FETCH_TIMEOUT='soon' is invalid"),
    ("NEWSWATCH_FETCH_TIMEOUT", "0", "must be more than zero"),
    ("NEWSWATCH_HOST_DELAY", "-1", "NEWSWATCH_HOST_DELAY='-1'"),
    ("NEWSWATCH_MAX_BODY_BYTES", "ten", "NEWSWATCH_MAX_BODY_BYTES='ten'"),
    ("NEWSWATCH_DATABASE_URL", "mysql://root@db/x", "only sqlite"),
    ("NEWSWATCH_DATABASE_URL", "not a url", "NEWSWATCH_DATABASE_URL='not a url'"),
    ("NEWSWATCH_ALERT_URLS", "ops@example.test", "not an Apprise URL"),
    ("NEWSWATCH_ALLOWED_PRIVATE_HOSTS", "10.0.0.0/33,bad host!", "NEWSWATCH_ALLOWED_PRIVATE_HOSTS"),
    ("NEWSWATCH_WEB_URL", "ftp://x", "NEWSWATCH_WEB_URL='ftp://x'"),
    ("NEWSWATCH_DELIVERY_TIMEOUT", "0", "NEWSWATCH_DELIVERY_TIMEOUT='0' is invalid: must be more than zero"),
    ("NEWSWATCH_DELIVERY_TIMEOUT", "a while", "NEWSWATCH_DELIVERY_TIMEOUT='a while' is invalid: not a duration"),
])
def test_a_bad_value_names_the_variable(variable, value, message):
    with pytest.raises(SettingsError, match=message.replace("+", r"\+").replace("?", r"\?")):
        Settings.load(environ={variable: value})


@pytest.mark.parametrize("text, seconds", [("90", 90), ("30s", 30), ("15m", 900), ("6h", 21600),
                                           ("1d", 86400), ("250ms", 0.25), ("1.5h", 5400)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_variable_names_follow_the_contract():
    assert variable_name("feeds_path") == "NEWSWATCH_FEEDS"
    assert variable_name("topics_path") == "NEWSWATCH_TOPICS"
    assert variable_name("database_url") == "NEWSWATCH_DATABASE_URL"


def test_a_bad_flag_value_names_the_flag():
    with pytest.raises(SettingsError, match="--fetch-timeout='0' is invalid"):
        Settings.load(environ={"NEWSWATCH_FETCH_TIMEOUT": "10"}, fetch_timeout="0")


def test_the_shipped_seeds_are_found_from_any_directory(tmp_path, monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.chdir(tmp_path)
    settings = Settings.load(environ={})
    assert settings.feeds_path == ROOT / "seeds" / "feeds.toml" and settings.feeds_path.exists()
    assert settings.topics_path == ROOT / "seeds" / "topics.toml"
    assert settings.baseline_dir == ROOT / "seeds" / "baseline"
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "feeds.toml").write_text("", encoding="utf-8")
    assert Settings.load(environ={}).feeds_path == Path("seeds/feeds.toml")  # the working directory's first


def test_the_web_token_is_read_validated_and_never_shown():
    token = "a-long-enough-secret-token"
    settings = Settings.load(environ={"NEWSWATCH_WEB_TOKEN": token})
    assert settings.web_token == token and token not in repr(settings)
    assert Settings.load(environ={}).web_token is None
    with pytest.raises(SettingsError, match="NEWSWATCH_WEB_TOKEN=.* at least 16 characters") as short:
        Settings.load(environ={"NEWSWATCH_WEB_TOKEN": "tooshort"})
    assert "tooshort" not in str(short.value)
    with pytest.raises(SettingsError, match="--web-token=.* spaces") as spaced:
        Settings.load(environ={}, web_token="two words that are long")
    assert "two words" not in str(spaced.value)


def test_workers_default_to_the_cores_up_to_four_and_at_least_one_is_needed(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 64)
    assert Settings.load(environ={}).workers == 4
    monkeypatch.setattr("os.cpu_count", lambda: None)
    assert Settings.load(environ={}).workers == 1
    assert Settings.load(environ={"NEWSWATCH_WORKERS": "3"}).workers == 3
    with pytest.raises(SettingsError, match="NEWSWATCH_WORKERS='0' is invalid: must be more than zero"):
        Settings.load(environ={"NEWSWATCH_WORKERS": "0"})
