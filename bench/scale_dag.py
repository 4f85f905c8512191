"""The DAG modes of bench/scale.py: newswatch_poll over N synthetic feeds through Airflow.

``local``: `./dev up` (Airflow standalone, LocalExecutor, SQLite metadata); ``celery1`` and
``celery2``: `./dev celery` with one or two Celery workers (Redis, PostgreSQL). Each mode
gets a data directory, free ports and databases of its own; the poll's schedule is set to
one that never fires (checked), so the only runs are the two this bench triggers (``force``): the first cycle
(everything new) and the unchanged cycle (every feed answers 304). Wall time is the run's
own (start to end, as Airflow records it). Peak RSS is sampled every half second: for each
Celery worker, the sum over its process tree (the worker, its pool, the task processes);
for the LocalExecutor, the whole standalone tree, which is where its tasks run.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NEVER = "0 0 29 2 *"  # last fired before the DAGs' start date, next in 2028: no scheduled run
LIMIT = 3600  # seconds for one cycle


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, token: str | None = None, data: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and every process below it."""
    parents, rss = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], rss[pid] = int(fields[1]), int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total = 0
    for pid in rss:
        node = pid
        while node > 1 and node != root:
            node = parents.get(node, 0)
        total += rss[pid] if node == root else 0
    return total


class Airflow:
    """`./dev up` or `./dev celery` for the bench, with the article database at ``database_url``."""

    def __init__(self, mode: str, folder: Path, env: dict[str, str], database_url: str) -> None:
        self.mode, self.folder, self.port = mode, folder, free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        tag = uuid.uuid4().hex[:10]
        self.env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW")}
        self.env.update(NEWSWATCH_DATA_DIR=str(folder / "airflow-data"), NEWSWATCH_AIRFLOW_PORT=str(self.port),
                        NEWSWATCH_POLL_SCHEDULE=NEVER, NEWSWATCH_ALERTS_SCHEDULE=NEVER,
                        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
                        AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()))
        if mode == "local":
            self.command = "up"
            self.env["NEWSWATCH_DATABASE_URL"] = database_url
        else:
            self.command = "celery"
            server, _, name = database_url.rpartition("/")
            self.databases = [f"nw_bench_{tag}_airflow"]
            self.env.update(NEWSWATCH_POSTGRES=server, NEWSWATCH_ARTICLES_DB=name,
                            NEWSWATCH_AIRFLOW_DB=self.databases[0], NEWSWATCH_CELERY_WORKERS=mode[-1],
                            AIRFLOW__OPERATORS__DEFAULT_QUEUE=f"newswatch_bench_{tag}")
        self.peaks: dict[str, int] = {}
        self._sampling = False

    def __enter__(self) -> "Airflow":
        self.log = open(self.folder / f"dev-{self.mode}.log", "w")
        self.process = subprocess.Popen([str(ROOT / "dev"), self.command], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.token = self._wait_for_login()
        return self

    def __exit__(self, *exc_info) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()
        if self.mode != "local":
            from sqlalchemy import create_engine, text
            admin = create_engine(self.env["NEWSWATCH_POSTGRES"] + "/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                for name in self.databases:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    def _wait_for_login(self) -> str:
        passwords = self.folder / "airflow-data" / "airflow" / "simple_auth_manager_passwords.json.generated"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"./dev {self.command} exited; see {self.log.name}")
            try:
                health = call(f"{self.base}/api/v2/monitor/health")
                if all(health[p]["status"] == "healthy" for p in ("scheduler", "dag_processor")) and passwords.exists():
                    password = json.loads(passwords.read_text())["admin"]
                    token = call(f"{self.base}/auth/token", data={"username": "admin", "password": password})
                    call(f"{self.base}/api/v2/dags/newswatch_poll", token["access_token"])
                    if self.mode == "local" or self._workers_ready():
                        return token["access_token"]
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(2)
        raise SystemExit(f"Airflow did not come up; see {self.log.name}")

    def _workers_ready(self) -> bool:
        logs = self.folder / "airflow-data" / "logs"
        return all("ready." in (logs / f"worker{i}.log").read_text()
                   for i in range(1, int(self.mode[-1]) + 1))

    def roots(self) -> dict[str, int]:
        """What the peak RSS is measured over: the Celery workers, or standalone."""
        if self.mode == "local":
            return {"standalone": self.process.pid}
        import re
        started = re.findall(r"started (\w+) \(process group (\d+)\)", Path(self.log.name).read_text())
        return {name: int(group) for name, group in started if name.startswith("worker")}

    def _sample(self) -> None:
        roots = self.roots()
        while self._sampling:
            for name, root in roots.items():
                self.peaks[name] = max(self.peaks.get(name, 0), tree_rss(root))
            time.sleep(0.5)

    def cycle(self) -> float:
        """Trigger newswatch_poll (force) and wait for it: the run's own wall seconds."""
        self.peaks, self._sampling = {}, True
        sampler = threading.Thread(target=self._sample, daemon=True)
        sampler.start()
        try:
            others = call(f"{self.base}/api/v2/dags/newswatch_poll/dagRuns?run_type=scheduled", self.token)
            if others["total_entries"]:
                raise SystemExit("a scheduled newswatch_poll run appeared: its work would mix with the bench's")
            run = call(f"{self.base}/api/v2/dags/newswatch_poll/dagRuns", self.token,
                       {"logical_date": None, "conf": {"force": True}})
            url = f"{self.base}/api/v2/dags/newswatch_poll/dagRuns/{run['dag_run_id']}"
            deadline = time.monotonic() + LIMIT
            while time.monotonic() < deadline:
                run = call(url, self.token)
                if run["state"] in ("success", "failed"):
                    break
                time.sleep(2)
            else:
                raise SystemExit(f"newswatch_poll did not finish within {LIMIT} s")
        finally:
            self._sampling = False
            sampler.join()
        if run["state"] != "success":
            raise SystemExit(f"newswatch_poll run {run['dag_run_id']} {run['state']}")
        return (datetime.fromisoformat(run["end_date"]) - datetime.fromisoformat(run["start_date"])).total_seconds()


def measure_dag(mode: str, size: int, folder: Path, env: dict[str, str], url: str, world,
                stored_articles) -> list[tuple]:
    """First and unchanged cycle of newswatch_poll in ``mode``: rows for the table."""
    rows = []
    with Airflow(mode, folder, env, url) as airflow:
        for label in ("first cycle", "unchanged cycle"):
            world.requests.clear()
            before = stored_articles(url)
            wall = airflow.cycle()
            new = stored_articles(url) - before
            peak = "/".join("%.0f" % (airflow.peaks[name] / 2**20) for name in sorted(airflow.peaks))
            rows.append((size, mode, label, wall, new / wall, size / wall, peak,
                         sum(world.requests.values()) / size, new))
    return rows
