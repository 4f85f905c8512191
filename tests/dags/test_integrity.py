"""Every DAG file imports cleanly, is configured as promised, and does nothing at parse time."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from tests.dags.conftest import ROOT

DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py") if p.stem != "newswatch_airflow")


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {p.stem for p in DAG_FILES} == {
        "newswatch_poll", "newswatch_maintenance", "newswatch_alerts"}


@pytest.mark.parametrize("dag_id", ["newswatch_poll", "newswatch_maintenance", "newswatch_alerts"])
def test_dag_configuration(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert "newswatch" in dag.tags and len(dag.tags) >= 2
    assert dag.catchup is False and dag.max_active_runs == 1
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_exponential_backoff == 2.0 and task.max_retry_delay <= timedelta(minutes=15)
        assert task.owner == "newswatch" and task.on_failure_callback


def test_poll_dag_shape(dagbag):
    dag = dagbag.get_dag("newswatch_poll")
    poll = dag.get_task("poll_feed")
    assert "task.op_kwargs['feeds'][0]" in poll.map_index_template  # the feed's name, or "first +N" for a batch
    assert dag.get_task("summarize").trigger_rule == "all_done"
    assert [t.task_id for t in dag.topological_sort()] == ["plan", "poll_feed", "summarize"]


def test_alerts_dag_runs_on_new_articles_and_on_a_timer(dagbag):
    dag = dagbag.get_dag("newswatch_alerts")
    assert [t.task_id for t in dag.tasks] == ["deliver"]
    timetable = dag.timetable
    assert type(timetable).__name__ == "AssetOrTimeSchedule"
    assert timetable.asset_condition.name == "newswatch_articles"
    assert timetable.asset_condition.uri.rstrip("/") == "newswatch://articles"  # Airflow adds the slash
    assert timetable.timetable.expression == "*/5 * * * *"
    # The poll DAG's feed tasks announce exactly that asset (through its alias) when articles arrive.
    poll = dagbag.get_dag("newswatch_poll")
    assert poll.get_task("poll_feed").outlets[0].name == "newswatch_new_articles"
    assert not poll.get_task("summarize").outlets


PROBE = r"""
import importlib.util, json, socket, sqlite3, sys
import airflow.sdk  # what Airflow itself brings is not the DAG file's doing
before = set(sys.modules)
attempts = []
def refuse(kind):
    def guard(*args, **kwargs):
        attempts.append(kind)
        raise RuntimeError(f"{kind} at DAG parse time")
    return guard
socket.socket.connect = refuse("socket connect")
socket.create_connection = refuse("socket create_connection")
socket.getaddrinfo = refuse("DNS lookup")
sqlite3.connect = refuse("sqlite3 connect")
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0])
spec = importlib.util.spec_from_file_location("dag_under_test", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
added = {m.split(".")[0] for m in set(sys.modules) - before} | {
    m for m in set(sys.modules) - before if m.startswith("pipeline.")}
# The retry policy resolves pipeline.errors, which imports nothing but the standard library.
heavy = sorted(added & {"pipeline.run", "pipeline.fetch", "pipeline.storage", "sqlalchemy", "httpx",
                        "trafilatura", "feedparser", "langdetect", "apprise", "psycopg", "lxml",
                        "courlan", "charset_normalizer"})
print(json.dumps({"attempts": attempts, "heavy": heavy}))
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_importing_a_dag_file_does_no_io_and_no_heavy_import(path):
    done = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"attempts": [], "heavy": []}
