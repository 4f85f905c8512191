"""Wall time and task instances of newswatch_poll runs over the fixture world (dag.test()).

Starts the tests' fixture HTTP server on 127.0.0.1, a private AIRFLOW_HOME with a
migrated SQLite metadata database and a SQLite article database, then runs the DAG
twice: a first run that stores every article, and a forced second run over unchanged
feeds (all 304). dag.test() runs tasks one after another in this process; a scheduler
with parallelism runs the mapped tasks side by side.

    .venv/bin/python bench/poll_dag.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(tempfile.mkdtemp(prefix="newswatch-bench-"))
os.environ.update(AIRFLOW_HOME=str(HOME / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                  AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"))
sys.path[:0] = [str(ROOT), str(ROOT / "dags")]


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    from tests.fixtureserver import FixtureServer
    from tests.world import FEEDS, write_feed_list

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    from pipeline.cli import main as newswatch

    table = Table(title=f"newswatch_poll over the fixture world ({len(FEEDS)} feeds), dag.test()",
                  title_justify="left")
    for column in ("run", "wall s", "task instances", "feed tasks", "page requests", "feed requests"):
        table.add_column(column, justify="left" if column == "run" else "right")
    with FixtureServer() as server:
        os.environ.update(NEWSWATCH_DATABASE_URL=f"sqlite:///{HOME / 'articles.db'}",
                          NEWSWATCH_FEEDS=str(write_feed_list(HOME / "feeds.toml", server)),
                          NEWSWATCH_BASELINE=str(ROOT / "seeds/baseline"),
                          NEWSWATCH_ALLOWED_PRIVATE_HOSTS="127.0.0.1", NEWSWATCH_HOST_DELAY="0")
        newswatch(["init"])
        dag = DagBag(dag_folder=str(ROOT / "dags")).get_dag("newswatch_poll")
        for label, conf in (("first (stores every article)", None), ("second (unchanged, forced)", {"force": True})):
            server.reset_counts()
            started = time.perf_counter()
            run = dag.test(run_conf=conf)
            wall = time.perf_counter() - started
            with create_session() as session:
                instances = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).all()
                feed_tasks = sum(1 for t in instances if t.task_id == "poll_feed")
            pages = sum(n for path, n in server.requests.items() if path.endswith(".html"))
            feeds = sum(n for path, n in server.requests.items() if path.startswith("/feeds/"))
            table.add_row(label, f"{wall:.1f}", str(len(instances)), str(feed_tasks), str(pages), str(feeds))
    Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
