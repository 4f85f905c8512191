"""The command line: every setting has a flag, and flags beat the environment."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipeline.cli import build_parser, main
from pipeline.settings import flag_name, setting_names
from tests.conftest import ROOT


def test_every_setting_has_a_flag_on_every_command():
    parser = build_parser()
    for command in ("init", "run", "feeds", "export"):
        args = parser.parse_args([command, *[x for name in setting_names() for x in (flag_name(name), "1")]])
        assert all(getattr(args, name) == "1" for name in setting_names())


def test_a_flag_overrides_the_environment(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    database = tmp_path / "flag.db"
    assert main(["init", "--database-url", f"sqlite:///{database}",
                 "--baseline", str(ROOT / "seeds" / "baseline")]) == 0
    assert database.is_file() and "baseline article 1 loaded" in capsys.readouterr().err


def test_feeds_lists_health(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["init", "--database-url", url, "--baseline", str(ROOT / "seeds" / "baseline")]) == 0
    assert main(["feeds", "--database-url", url]) == 0  # no feed polled yet: an empty table
    assert "feed health" in capsys.readouterr().out


@pytest.mark.parametrize("args, code", [(["--help"], 0), (["frobnicate"], 2), ([], 2)])
def test_the_console_script(args, code):
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", *args], capture_output=True, text=True)
    assert done.returncode == code


def test_run_only_one_feed(tmp_path, server, capsys):
    from tests.conftest import make_settings
    from tests.world import write_feed_list

    feeds = write_feed_list(tmp_path / "feeds.toml", server)
    settings = make_settings(tmp_path)
    common = ["--database-url", settings.database_url, "--baseline", str(settings.baseline_dir)]
    assert main(["init", *common]) == 0
    flags = ["--feeds", str(feeds), "--allowed-private-hosts", "127.0.0.1", "--host-delay", "0"]
    assert main(["run", *common, *flags, "--only", "visnyk"]) == 0
    assert server.requests["/feeds/visnyk.xml"] == 1 and server.requests["/feeds/cbc-world.xml"] == 0
    assert main(["run", *common, *flags, "--only", "visnyk"]) == 0  # not due, but asked for
    assert server.requests["/feeds/visnyk.xml"] == 2
    assert main(["run", *common, *flags, "--only", "nope"]) == 2
    assert "no feed named 'nope'" in capsys.readouterr().err


def test_show_explains_an_article(tmp_path, server, capsys):
    from tests.conftest import make_settings
    from tests.world import write_feed_list

    feeds = write_feed_list(tmp_path / "feeds.toml", server)
    settings = make_settings(tmp_path)
    common = ["--database-url", settings.database_url, "--baseline", str(settings.baseline_dir)]
    main(["init", *common])
    main(["run", *common, "--feeds", str(feeds), "--allowed-private-hosts", "127.0.0.1", "--host-delay", "0"])
    capsys.readouterr()
    assert main(["show", "1", *common]) == 0  # the baseline
    out = capsys.readouterr().out
    topics = next(line for line in out.splitlines() if line.startswith("topics: "))
    assert "baseline similarity 1.0" in out and {"summit", "ceasefire"} <= set(topics[8:].split(", "))
    assert "*gipfel" in out  # the terms that fired are shown
    assert main(["show", "999999", *common]) == 1


@pytest.mark.parametrize("query, reason", [
    ("(" * 100 + "a" + " b)" * 100, "parentheses nest more than 10 deep"),  # was exit 3: FTS5's parser stack
    ("(" * 400 + "a", "parentheses nest more than 10 deep"),  # was a RecursionError
    ("Alaska " * 100, "the query is 700 characters long; at most 500"),
])
def test_an_over_deep_or_over_long_query_exits_2_with_the_reason(tmp_path, capsys, query, reason):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["init", "--database-url", url, "--baseline", str(ROOT / "seeds" / "baseline")]) == 0
    capsys.readouterr()
    assert main(["search", query, "--database-url", url]) == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["show", "9223372036854775808"], ["show", "0"], ["search", "x", "--story", str(2**63)],
    ["search", "x", "--limit", str(2**63)], ["alerts", "--retry", str(2**63)],
    ["export", "--limit", "-1"], ["search", "x", "--until", "9999-12-31"], ["export", "--since", "0001-01-01"],
])
def test_numbers_and_days_no_database_can_hold_exit_2_naming_the_argument(args, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(args)
    assert stopped.value.code == 2
    assert "is outside" in capsys.readouterr().err
