"""newswatch_poll runs that tell the truth (dag.test()): a retried feed is named from its first
try, failures count once per run, a run whose feeds failed fails and says which in its note,
and more feeds than Airflow can map are polled in batches."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text

from pipeline.cli import main
from tests.conftest import ROOT
from tests.world import ARTICLES, FEEDS, write_feed_list


@pytest.fixture
def poll_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).get_dag("newswatch_poll")


@pytest.fixture
def articles_db(monkeypatch, tmp_path, server) -> str:
    url = f"sqlite:///{tmp_path / 'articles.db'}"
    for key, value in {"NEWSWATCH_DATABASE_URL": url, "NEWSWATCH_BASELINE": str(ROOT / "seeds/baseline"),
                       "NEWSWATCH_TOPICS": str(ROOT / "seeds/topics.toml"),
                       "NEWSWATCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1", "NEWSWATCH_HOST_DELAY": "0",
                       "NEWSWATCH_FETCH_RETRIES": "0", "NEWSWATCH_FETCH_TIMEOUT": "2",
                       "NEWSWATCH_DATA_DIR": str(tmp_path / "data"), "NEWSWATCH_OPERATOR_ALERT_URLS": ""}.items():
        monkeypatch.setenv(key, value)
    assert main(["init", "--database-url", url]) == 0
    return url


def feed_list(monkeypatch, tmp_path, server, *, world: bool, faults: list[tuple[str, str]]) -> None:
    path = write_feed_list(tmp_path / "feeds.toml", server)
    if not world:
        path.write_text("")
    with open(path, "a", encoding="utf-8") as handle:
        for name, route in faults:
            handle.write(f'[[feed]]\nname = "{name}"\nurl = "{server.url(route)}"\noutlet = "Faults"\n\n')
    monkeypatch.setenv("NEWSWATCH_FEEDS", str(path))


def with_retries(dag, retries: int):
    poll = dag.task_dict["poll_feed"]
    poll.retries, poll.retry_delay, poll.retry_exponential_backoff = retries, timedelta(seconds=1), 0
    return dag


def poll_instances(run_id: str) -> list[tuple[int, str, str, int]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter(TaskInstance.run_id == run_id,
                                                  TaskInstance.task_id == "poll_feed").all()
        return [(t.map_index, t.rendered_map_index, t.state, t.try_number) for t in rows]


def run_state(run_id: str) -> tuple[str, str | None, dict[str, str]]:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter(DagRun.run_id == run_id).one()
        tasks = {t.task_id: t.state for t in session.query(TaskInstance).filter(
            TaskInstance.run_id == run_id, TaskInstance.map_index == -1)}
        return run.state, run.note, tasks


def failures(url: str, name: str) -> int:
    engine = create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(text("select consecutive_failures from feeds where name = :n"),
                                   {"n": name}).scalar()
    engine.dispose()
    return count


class Watcher(threading.Thread):
    """Reads the poll_feed task instances of the newest run every 0.1 s while the DAG runs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.seen: set[tuple[str | None, str | None, int]] = set()  # (label, state, try) of map index 1
        self.stop = threading.Event()

    def run(self) -> None:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        while not self.stop.is_set():
            try:
                with create_session() as session:
                    newest = session.query(TaskInstance.run_id).filter(TaskInstance.dag_id == "newswatch_poll") \
                        .order_by(TaskInstance.start_date.desc().nullslast()).limit(1).scalar()
                    for t in session.query(TaskInstance).filter(TaskInstance.run_id == newest,
                                                                TaskInstance.task_id == "poll_feed",
                                                                TaskInstance.map_index == 1):
                        self.seen.add((t.rendered_map_index, t.state, t.try_number))
            except Exception:  # noqa: BLE001 — SQLite busy for a moment: look again
                pass
            time.sleep(0.1)


def test_a_feed_waiting_for_its_retry_is_named_from_its_first_try(poll_dag, articles_db, monkeypatch,
                                                                    tmp_path, server):
    """The feed hangs (each try runs into the 2 s timeout) and is retried twice; while it
    runs and while it waits for its retry, its task instance already carries its name. Its
    three failed tries in one run count as one failure of the feed."""
    server.hang_seconds = 30
    feed_list(monkeypatch, tmp_path, server, world=False, faults=[("fault-500", "fault/500"),
                                                                   ("fault-hang", "fault/hang")])
    watcher = Watcher()
    watcher.start()
    try:
        run = with_retries(poll_dag, 2).test()
    finally:
        watcher.stop.set()
        watcher.join()
    running = {(label, tries) for label, state, tries in watcher.seen if state == "running"}
    waiting = {(label, tries) for label, state, tries in watcher.seen if state == "up_for_retry"}
    assert ("fault-hang", 1) in running and ("fault-hang", 2) in running
    assert waiting and all(label == "fault-hang" for label, _ in waiting)
    # From the moment the first try has rendered it (it may be seen running a moment before).
    assert {label for label, state, tries in watcher.seen if state in ("running", "up_for_retry", "failed")
            and (tries > 1 or state != "running")} == {"fault-hang"}
    assert [label for index, _, label, _ in history(run.run_id) if index == 1] == ["fault-hang", "fault-hang"]
    assert sorted(poll_instances(run.run_id)) == [(0, "fault-500", "failed", 3), (1, "fault-hang", "failed", 3)]
    assert failures(articles_db, "fault-hang") == failures(articles_db, "fault-500") == 1


def test_a_run_in_which_every_feed_failed_fails_and_its_note_names_them(poll_dag, articles_db, monkeypatch,
                                                                        tmp_path, server):
    feed_list(monkeypatch, tmp_path, server, world=False,
              faults=[("fault-500", "fault/500"), ("fault-malformed", "fault/malformed.xml")])
    run = with_retries(poll_dag, 0).test()
    state, note, tasks = run_state(run.run_id)
    assert state == "failed" and tasks == {"plan": "success", "summarize": "failed"}
    assert note.startswith("**2 of 2 feeds failed**")
    assert "`fault-500`: HTTP 500" in note and "`fault-malformed`: malformed feed" in note

    # A plain trigger now polls nothing (both feeds back off) and says so; the run is green.
    again = with_retries(poll_dag, 0).test()
    state, note, tasks = run_state(again.run_id)
    assert state == "success" and note is None and tasks["summarize"] == "success"
    assert poll_instances(again.run_id) in ([], [(-1, None, "skipped", 0)], [(-1, "-1", "skipped", 0)])


def test_one_failed_feed_leaves_the_run_green_with_a_note_unless_past_the_share(poll_dag, articles_db,
                                                                                monkeypatch, tmp_path, server):
    feed_list(monkeypatch, tmp_path, server, world=True, faults=[("fault-malformed", "fault/malformed.xml")])
    run = with_retries(poll_dag, 0).test()
    state, note, tasks = run_state(run.run_id)
    assert state == "success" and tasks == {"plan": "success", "summarize": "success"}
    assert note.startswith(f"**1 of {len(FEEDS) + 1} feeds failed**") and "`fault-malformed`" in note
    assert dict((label, s) for _, label, s, _ in poll_instances(run.run_id))["fault-malformed"] == "failed"

    monkeypatch.setenv("NEWSWATCH_POLL_FAILED_SHARE", "0.05")  # one of eleven is more than a twentieth
    strict = with_retries(poll_dag, 0).test(run_conf={"force": True})
    assert run_state(strict.run_id)[0] == "failed"


def test_more_feeds_than_airflow_can_map_are_polled_in_batches(poll_dag, articles_db, monkeypatch,
                                                                tmp_path, server):
    """Airflow's map limit lowered to 4 and newswatch's task limit to 3: eleven feeds in three
    batches, the broken feed's batch fails without costing its siblings their articles, and
    a retry polls only the broken feed."""
    from airflow.configuration import conf

    feed_list(monkeypatch, tmp_path, server, world=True, faults=[("fault-500", "fault/500")])
    monkeypatch.setenv("NEWSWATCH_POLL_TASKS", "3")
    previous = conf.get("core", "max_map_length")
    conf.set("core", "max_map_length", "4")
    try:
        server.reset_counts()
        run = with_retries(poll_dag, 1).test()
    finally:
        conf.set("core", "max_map_length", previous)
    polls = poll_instances(run.run_id)
    assert sorted(label.split(" +")[1] for _, label, _, _ in polls) == ["2", "3", "3"]  # 11 feeds: 4 + 4 + 3
    states = sorted((s, tries) for _, _, s, tries in polls)
    assert states == [("failed", 2), ("success", 1), ("success", 1)]
    state, note, tasks = run_state(run.run_id)
    assert state == "success" and note.startswith(f"**1 of {len(FEEDS) + 1} feeds failed**")
    assert "`fault-500`: HTTP 500" in note
    engine = create_engine(articles_db)
    with engine.connect() as connection:
        stored = connection.execute(text("select count(*) from articles where not is_baseline")).scalar()
    engine.dispose()
    assert stored == len(ARTICLES)
    # The failed batch's retry asked only the broken feed again: each world feed once in all.
    assert all(server.requests[f"/{f['path']}"] == 1 for f in FEEDS)
    assert server.count("/fault/500") == 2 and failures(articles_db, "fault-500") == 1



def history(run_id: str) -> list[tuple[int, int, str | None, str]]:
    """(map index, try, label, state) of each finished try that was retried."""
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    with create_session() as session:
        return sorted((t.map_index, t.try_number, t.rendered_map_index, t.state) for t in session.query(
            TaskInstanceHistory).filter(TaskInstanceHistory.run_id == run_id))
