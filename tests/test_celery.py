"""Scale-out, for real: `./dev celery` starts Airflow's CeleryExecutor on this machine's Redis
and PostgreSQL (scheduler, API server, DAG processor, triggerer, two Celery workers, each a
process group of its own). The scheduled `newswatch_poll` runs its feeds on both workers;
one worker is killed with SIGKILL while it polls a feed; the scheduler notices the missing
heartbeats and retries that feed on the other worker. Every fixture article is stored
once, `newswatch_alerts` (started by the poll's asset event) sends each summit story once
to a real webhook receiver, and Ctrl-C stops every process that is left.

Takes a few minutes: the heartbeat timeout is lowered to 20 s, but the DAG's retry delay
(a minute) is the production one."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import ROOT
from tests.receiver import WebhookReceiver, alert_document
from tests.test_dev_up import as_in_a_terminal, free_port, get_json, processes_using
from tests.world import ARTICLES, write_feed_list

LIMIT = 600  # seconds for start-up, the poll with its retried feed, and the alerts
BROKER = os.environ.get("NEWSWATCH_TEST_BROKER_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="module")
def broker() -> str:
    """The Redis broker; skips (or, under CI, fails) when it is absent."""
    import redis

    try:
        redis.Redis.from_url(BROKER, socket_timeout=3).ping()
    except redis.RedisError as error:
        reason = f"Redis not reachable at {BROKER}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " (CI must prove the Celery scale-out)")
        pytest.skip(reason)
    return BROKER


class Cluster:
    """`./dev celery` in a temporary data directory, on free ports and databases of its own."""

    def __init__(self, tmp_path: Path, server, postgres: str, broker: str, alert_url: str) -> None:
        self.tmp, self.port, tag = tmp_path, free_port(), uuid.uuid4().hex[:10]
        self.home = tmp_path / "data" / "airflow"
        self.server_url = postgres.rsplit("/", 1)[0]  # the server; `./dev celery` names the databases
        self.databases = {"airflow": f"nw_celery_{tag}_airflow", "articles": f"nw_celery_{tag}"}
        self.queue = f"newswatch_test_{tag}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSWATCH_"))}
        self.env.update(
            NEWSWATCH_DATA_DIR=str(tmp_path / "data"), NEWSWATCH_AIRFLOW_PORT=str(self.port),
            NEWSWATCH_POSTGRES=self.server_url, NEWSWATCH_BROKER_URL=broker,
            NEWSWATCH_AIRFLOW_DB=self.databases["airflow"], NEWSWATCH_ARTICLES_DB=self.databases["articles"],
            AIRFLOW__OPERATORS__DEFAULT_QUEUE=self.queue,  # the test's tasks, on no one else's worker
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT="20",
            AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL="5",
            AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT="90",
            NEWSWATCH_FEEDS=str(write_feed_list(tmp_path / "feeds.toml", server)),
            NEWSWATCH_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
            NEWSWATCH_HOST_DELAY="1",  # a feed's pages a second apart: a poll lasts long enough to be cut
            NEWSWATCH_ALERT_URLS=alert_url)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "dev-celery.log"
        self.process: subprocess.Popen | None = None
        self.token = ""

    def start(self) -> None:
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([str(ROOT / "dev"), "celery"], cwd=ROOT, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=as_in_a_terminal)
        self.deadline = time.monotonic() + LIMIT

    def wait_for(self, check, what: str):
        last_error = None
        while time.monotonic() < self.deadline:
            assert self.process.poll() is None, f"./dev celery exited with {self.process.returncode} ({what})"
            try:
                result = check()
                if result:
                    return result
            except (OSError, ValueError, KeyError) as error:
                last_error = error
            time.sleep(2)
        pytest.fail(f"timed out waiting for {what} (last error: {last_error}); see {self.log_path}")

    def api(self, path: str) -> dict:
        return get_json(f"{self.base}/api/v2/{path}", self.token)

    def log_in(self) -> None:
        password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        answer = get_json(f"{self.base}/auth/token", data={"username": "admin", "password": password})
        self.token = answer["access_token"]

    def worker_groups(self) -> dict[str, int]:
        """worker1, worker2 → the process group `./dev celery` started each in."""
        started = re.findall(r"started (\w+) \(process group (\d+)\)", self.log_path.read_text())
        return {name: int(group) for name, group in started if name.startswith("worker")}

    def stop(self) -> list[int]:
        """Ctrl-C, as a user would; returns the processes left behind (and kills them)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=90)
            finally:
                self.log.close()
        leftovers = processes_using(self.home)
        for pid in leftovers:
            os.kill(pid, signal.SIGKILL)
        return leftovers

    def drop_databases(self) -> None:
        admin = create_engine(make_url(self.server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            for name in self.databases.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_celery_workers_share_the_poll_and_survive_a_killed_worker(tmp_path, server, postgres_server, broker):
    with WebhookReceiver() as recipients:
        cluster = Cluster(tmp_path, server, postgres_server, broker, recipients.url)
        try:
            cluster.start()
            killed_ti, survivor = run_and_kill_a_worker(cluster, server)
            poll, alerts = finish_the_cycle(cluster)
            articles = stored_articles(cluster)
        finally:
            leftovers = cluster.stop()
            cluster.drop_databases()
        assert leftovers == [], f"processes left behind: {leftovers}"
        assert cluster.process.returncode == 130

    assert poll["state"] == "success" and alerts["state"] == "success"
    # The killed feed's task failed its first try on the dead worker and succeeded on the other.
    assert killed_ti["state"] == "success" and killed_ti["try_number"] >= 2
    survivor_log = (tmp_path / "data" / "logs" / f"{survivor}.log").read_text()
    assert any(f"workload_id={killed_ti['id']}" in line and "final_state=success" in line
               for line in survivor_log.splitlines()), "the retried feed did not finish on the surviving worker"
    # Every article once, none lost.
    canonical = [row.canonical_url for row in articles["rows"]]
    assert sorted(canonical) == sorted(server.url(a["canonical"]) for a in ARTICLES)
    # Alerts: each summit story once, each one the outbox marks sent.
    by_url = {server.url(a["canonical"]): a for a in ARTICLES}
    alerted = [by_url[alert_document(post)["article"]["url"]] for post in recipients.posts]
    assert alerted and all(a["summit"] for a in alerted)
    assert len({a["story"] for a in alerted}) == len(alerted) == articles["sent"]


def run_and_kill_a_worker(cluster: Cluster, server) -> tuple[dict, str]:
    """Wait for a feed to be mid-poll on a worker, SIGKILL that worker's whole process group
    (the machine dying), and return the task instance once it succeeded, with the name of
    the worker that survived."""
    cluster.wait_for(lambda: (cluster.home / "simple_auth_manager_passwords.json.generated").exists()
                     and get_json(f"{cluster.base}/api/v2/monitor/health"), "the API server")
    cluster.log_in()
    def polling_now():  # a polling task runs, and pages (a second apart) are being fetched
        running = cluster.api("dags/newswatch_poll/dagRuns/~/taskInstances?state=running")["task_instances"]
        pages = server.count("/") - server.count("/feeds/") - server.count("/robots.txt")
        polls = [ti for ti in running if ti["task_id"] not in ("plan", "summarize") and ti["pid"]]
        return polls[0] if polls and pages else None

    victim = cluster.wait_for(polling_now, "a feed being polled on a worker")
    groups = cluster.worker_groups()
    assert len(groups) == 2, f"expected two workers, found {groups}"
    [(dead, group)] = [(name, g) for name, g in groups.items() if g in ancestors(victim["pid"])]
    # The machine dies: the worker and everything under it (the task runs in a session of its own).
    doomed = descendants(group)
    os.killpg(group, signal.SIGKILL)
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    [alive] = set(groups) - {dead}
    url = f"dags/newswatch_poll/dagRuns/{victim['dag_run_id']}/taskInstances/{victim['task_id']}/{victim['map_index']}"
    done = cluster.wait_for(lambda: (ti := cluster.api(url))["state"] == "success" and ti,
                            f"feed {victim['rendered_map_index']} to be retried after its worker died")
    return done, alive


def parents() -> dict[int, int]:
    """Every process's parent, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            found[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    return found


def ancestors(pid: int) -> list[int]:
    return ancestors_in(parents(), pid)


def descendants(pid: int) -> list[int]:
    tree = parents()
    return [child for child in tree if pid in ancestors_in(tree, child)]


def ancestors_in(tree: dict[int, int], pid: int) -> list[int]:
    chain = []
    while pid > 1:
        chain.append(pid)
        pid = tree.get(pid, 0)
    return chain


def finish_the_cycle(cluster: Cluster) -> tuple[dict, dict]:
    """The poll run once it ended, and the alerts run its asset event started, once that ended."""
    def ended(dag_id: str, run_type: str):
        runs = cluster.api(f"dags/{dag_id}/dagRuns?run_type={run_type}")["dag_runs"]
        return runs and all(r["state"] in ("success", "failed") for r in runs) and runs[0]

    poll = cluster.wait_for(lambda: ended("newswatch_poll", "scheduled"), "the poll run to end")
    alerts = cluster.wait_for(lambda: ended("newswatch_alerts", "asset_triggered"),
                              "the alerts run started by the poll's asset event")
    return poll, alerts


def stored_articles(cluster: Cluster) -> dict:
    url = make_url(cluster.server_url).set(database=cluster.databases["articles"])
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("select canonical_url from articles where not is_baseline")).all()
            sent = connection.scalar(text("select count(*) from alerts where state = 'sent' and sequence = 0"))
    finally:
        engine.dispose()
    return {"rows": rows, "sent": sent}
