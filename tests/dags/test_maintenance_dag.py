"""newswatch_maintenance with dag.test(): verdicts and a maintenance run land in the article database."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from pipeline.run import plan_cycle, poll_one
from pipeline.settings import Settings
from tests.conftest import ROOT
from tests.world import write_feed_list


@pytest.fixture
def maintenance_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).get_dag("newswatch_maintenance")


def test_maintenance_dag_records_health(maintenance_dag, monkeypatch, tmp_path, server):
    url = f"sqlite:///{tmp_path / 'articles.db'}"
    feeds = write_feed_list(tmp_path / "feeds.toml", server, faults=True)
    for key, value in {"NEWSWATCH_DATABASE_URL": url, "NEWSWATCH_FEEDS": str(feeds),
                       "NEWSWATCH_BASELINE": str(ROOT / "seeds/baseline"),
                       "NEWSWATCH_TOPICS": str(ROOT / "seeds/topics.toml"),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                       "NEWSWATCH_FETCH_RETRIES": "0", "NEWSWATCH_OPERATOR_ALERT_URLS": ""}.items():
        monkeypatch.setenv(key, value)
    assert main(["init"]) == 0
    settings = Settings.load()
    plan_cycle(settings)  # every feed of the list is known from now on
    poll_one(settings, "cbc-world")
    poll_one(settings, "fault-500")

    run = maintenance_dag.test()
    assert run.state == "success"
    engine = create_engine(url)
    with engine.connect() as connection:
        health = dict(connection.execute(text("select name, health from feeds")).all())
        runs = connection.execute(text("select feeds_checked, statistics_refreshed from maintenance_runs")).all()
    engine.dispose()
    assert health["cbc-world"] == "ok"
    assert health["fault-500"] == "failing"  # it has never succeeded
    assert health["rundschau"] == "new"  # never polled
    assert runs == [(len(health), True)]
