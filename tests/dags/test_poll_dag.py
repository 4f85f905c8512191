"""newswatch_poll end to end with dag.test(): the fixture feeds, one broken, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pipeline.cli import main
from tests.conftest import ROOT
from tests.receiver import WebhookReceiver
from tests.world import ARTICLES, FEEDS, write_feed_list

BROKEN = "broken-feed"


@pytest.fixture
def poll_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).get_dag("newswatch_poll")


@pytest.fixture
def world(monkeypatch, tmp_path, server):
    """The fixture world's feeds plus one that is broken for good (a malformed body)."""
    feeds = write_feed_list(tmp_path / "feeds.toml", server)
    with open(feeds, "a", encoding="utf-8") as handle:
        handle.write(f'[[feed]]\nname = "{BROKEN}"\nurl = "{server.url("fault/malformed.xml")}"\n'
                     'outlet = "Broken"\n')
    for key, value in {"NEWSWATCH_FEEDS": str(feeds), "NEWSWATCH_BASELINE": str(ROOT / "seeds/baseline"),
                       "NEWSWATCH_TOPICS": str(ROOT / "seeds/topics.toml"),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                       "NEWSWATCH_FETCH_RETRIES": "0", "NEWSWATCH_DATA_DIR": str(tmp_path / "data"),
                       "NEWSWATCH_OPERATOR_ALERT_URLS": ""}.items():
        monkeypatch.setenv(key, value)
    return server


def task_instances(run_id: str) -> list:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter(TaskInstance.run_id == run_id).all()
        return [(t.task_id, t.rendered_map_index, t.state) for t in rows]


def article_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (session.query(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                  .filter(AssetModel.uri.like("newswatch://articles%")).order_by(AssetEvent.id).all())
        return [dict(e.extra) for e in events]


def run_and_check(poll_dag, database_url: str, world) -> None:
    assert main(["init", "--database-url", database_url]) == 0
    events_before = len(article_events())
    started = time.perf_counter()
    run = poll_dag.test()
    wall = time.perf_counter() - started
    instances = task_instances(run.run_id)
    polls = {label: state for task, label, state in instances if task == "poll_feed"}
    assert polls == {**{f["name"]: "success" for f in FEEDS}, BROKEN: "failed"}
    assert {(task, state) for task, _, state in instances if task != "poll_feed"} == {
        ("plan", "success"), ("summarize", "success")}

    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = connection.execute(text("select count(*) from articles where not is_baseline")).scalar()
        broken = connection.execute(text("select last_status, last_error from feeds where name = :n"),
                                    {"n": BROKEN}).one()
    assert stored == len(ARTICLES)
    assert broken.last_status == "error" and "malformed feed" in broken.last_error
    # Each feed's task announced its own new articles as it ended: one event per feed with news.
    events = article_events()[events_before:]
    assert sum(e["new"] for e in events) == len(ARTICLES)
    assert all(sum(e["feeds"].values()) == e["new"] and len(e["feeds"]) == 1 for e in events)
    assert {name for e in events for name in e["feeds"]} <= {f["name"] for f in FEEDS}
    print(f"newswatch_poll over {len(FEEDS) + 1} feeds: {wall:.1f} s wall, {len(instances)} task instances")

    world.reset_counts()
    again = poll_dag.test(run_conf={"force": True})
    assert sum(1 for task, _, _ in task_instances(again.run_id) if task == "poll_feed") == len(FEEDS) + 1
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from articles where not is_baseline")).scalar() == stored
        assert connection.execute(text("select count(*) from entries")).scalar() >= stored
    assert sum(n for path, n in world.requests.items() if path.endswith(".html")) == 0
    assert len(article_events()) == events_before + len(events)  # nothing new: no more events
    engine.dispose()


def test_poll_dag_on_sqlite(poll_dag, world, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'articles.db'}"
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", url)
    with WebhookReceiver() as operators:
        monkeypatch.setenv("NEWSWATCH_OPERATOR_ALERT_URLS", operators.url)
        run_and_check(poll_dag, url, world)
    # One alert per failed task: the broken feed, in both runs, naming DAG, task, feed and error.
    assert len(operators.posts) == 2
    alert = operators.posts[0]["body"]
    assert alert["title"] == f"newswatch: feed {BROKEN} failed in newswatch_poll"
    for expected in ("DAG: newswatch_poll", f"Task: poll_feed (feed {BROKEN})",
                     "Error: PermanentFeedError", "malformed feed"):
        assert expected in alert["message"]


def test_poll_dag_on_postgresql_through_the_airflow_connection(poll_dag, world, monkeypatch, postgres_url):
    """The newswatch_db connection names the article database, and wins over the variable."""
    url = make_url(postgres_url)
    monkeypatch.setenv("AIRFLOW_CONN_NEWSWATCH_DB", json.dumps({
        "conn_type": "postgres", "host": url.host, "port": url.port, "login": url.username,
        "schema": url.database}))
    monkeypatch.setenv("NEWSWATCH_DATABASE_URL", "sqlite:////nonexistent/never-used.db")
    run_and_check(poll_dag, postgres_url, world)
