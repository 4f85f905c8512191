"""newswatch_alerts with dag.test(): the alerts a poll queued reach a real webhook receiver;
a second run sends nothing; recipients' failures reach operators on their own channel."""

from __future__ import annotations


import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from tests.conftest import ROOT
from tests.receiver import WebhookReceiver
from tests.world import ARTICLES, write_feed_list

SUMMIT_STORIES = {a["story"] for a in ARTICLES if a["summit"]}


@pytest.fixture
def alerts_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).get_dag("newswatch_alerts")


@pytest.fixture
def queued(monkeypatch, tmp_path, server):
    """The fixture world polled by `newswatch run --no-alerts`: alerts queued, none sent."""
    url = f"sqlite:///{tmp_path / 'articles.db'}"
    for key, value in {"NEWSWATCH_DATABASE_URL": url,
                       "NEWSWATCH_FEEDS": str(write_feed_list(tmp_path / "feeds.toml", server)),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                       "NEWSWATCH_DATA_DIR": str(tmp_path / "data"), "NEWSWATCH_OPERATOR_ALERT_URLS": ""}.items():
        monkeypatch.setenv(key, value)
    assert main(["init"]) == 0 and main(["run", "--no-alerts"]) == 0
    return url


def states(run_id: str) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        return {t.task_id: t.state for t in session.query(TaskInstance).filter(TaskInstance.run_id == run_id)}


def test_alerts_dag_delivers_to_the_receiver_once(alerts_dag, queued, monkeypatch, server):
    with WebhookReceiver() as recipients:
        monkeypatch.setenv("NEWSWATCH_ALERT_URLS", recipients.url)
        run = alerts_dag.test()
        assert states(run.run_id) == {"deliver": "success"}
        again = alerts_dag.test()
        assert states(again.run_id) == {"deliver": "success"}
    documents = recipients.documents()
    urls = {server.url(a["canonical"]): a for a in ARTICLES}
    assert sorted(urls[d["article"]["url"]]["story"] for d in documents) == sorted(SUMMIT_STORIES)
    engine = create_engine(queued)
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from alerts where sequence = 0 and state = 'sent'")
                                  ).scalar() == len(SUMMIT_STORIES)
    engine.dispose()


def test_a_failed_alert_fails_the_task_and_tells_operators_not_recipients(alerts_dag, queued, monkeypatch):
    with WebhookReceiver() as operators:
        monkeypatch.setenv("NEWSWATCH_ALERT_URLS", "json://127.0.0.1:9/nobody-listens")
        monkeypatch.setenv("NEWSWATCH_ALERT_ATTEMPTS", "1")
        monkeypatch.setenv("NEWSWATCH_OPERATOR_ALERT_URLS", operators.url)
        run = alerts_dag.test()
    assert states(run.run_id) == {"deliver": "failed"}
    [notice] = operators.posts  # failed without retry: one notice
    assert notice["body"]["title"] == "newswatch: deliver failed in newswatch_alerts"
    assert notice["body"]["type"] == "failure"  # Apprise's notify type: services show it as such
    assert "alert(s) failed for good" in notice["body"]["message"]
