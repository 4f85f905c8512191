"""What one poll task pays before and besides its poll, and what Airflow adds per task.

Part 1, a fresh process per sample (as Airflow's task runner starts one per task): the
time to import newswatch's pipeline, read the settings, read the feed list (1,100 feeds:
the fixture world plus synthetic ones), build the labeller (topic terms lemmatised, the
baseline's vector), and poll one unchanged feed (304) through ``poll_batch`` — the whole
task body. Each phase's seconds are the median of ``SAMPLES`` processes, the first with an
empty cache directory (a new data directory), the rest with the cache the first left.

Part 2, Airflow's own cost per task: ``dag.test()`` runs of newswatch_poll over N unchanged
feeds (all 304) with one feed per task and with batches, the wall time per task instance
minus the polls' own time. dag.test() runs tasks in this process, one after another; a
real scheduler adds a process start per task (part 1's import line).

    .venv/bin/python bench/poll_task.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = 3
FEEDS = 1100

PHASES = r'''
import json, sys, time
marks = [("start", time.perf_counter())]
import pipeline.polling
marks.append(("imports", time.perf_counter()))
from pipeline.settings import Settings
settings = Settings.load()
from pipeline.seeds import load_feeds
load_feeds(settings.feeds_path, [sys.argv[1]])
marks.append(("settings and feed list", time.perf_counter()))
from pipeline.labels import Labeller
from pipeline.seeds import load_baseline
Labeller(settings.topics_path, load_baseline(settings.baseline_dir), cache=settings.data_dir / "cache")
marks.append(("labeller", time.perf_counter()))
from pipeline.polling import poll_batch
[report] = poll_batch(settings, [sys.argv[1]])
assert report.status == "not_modified", report
marks.append(("task body: poll_batch of one 304 feed", time.perf_counter()))
print(json.dumps({name: round(t - marks[i][1], 3) for i, (name, t) in enumerate(marks[1:])}))
'''


def write_feeds(path: Path, server) -> None:
    from tests.world import write_feed_list

    write_feed_list(path, server)
    with open(path, "a", encoding="utf-8") as handle:
        for n in range(FEEDS - 10):
            handle.write(f'[[feed]]\nname = "synthetic-{n:05d}"\nurl = "http://127.0.0.{2 + n % 200}:9/{n}.xml"\n'
                         f'outlet = "Synthetic {n % 200}"\nenabled = false\n\n')


def fresh_process_phases(env: dict[str, str], data: Path) -> dict[str, float]:
    runs = []
    for sample in range(SAMPLES):
        if sample == 0:
            subprocess.run(["rm", "-rf", str(data / "cache")], check=True)
        done = subprocess.run([sys.executable, "-c", PHASES, "cbc-world"], env=env, capture_output=True,
                              text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    phases = {name: statistics.median(r[name] for r in runs) for name in runs[0]}
    phases["first process (empty cache): labeller"] = runs[0]["labeller"]
    return phases


def airflow_per_task(env: dict[str, str], feeds: int, tasks: int) -> tuple[float, int, float]:
    """A forced dag.test() over ``feeds`` unchanged feeds: (wall s, task instances, polls' own s)."""
    script = f'''
import os, sys, time
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "dags")!r}]
from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
dag = DagBag(dag_folder={str(ROOT / "dags")!r}).get_dag("newswatch_poll")
started = time.perf_counter()
run = dag.test(run_conf={{"force": True}})
wall = time.perf_counter() - started
with create_session() as session:
    count = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id).count()
print("RESULT", wall, count)
'''
    done = subprocess.run([sys.executable, "-c", script], env={**env, "NEWSWATCH_POLL_TASKS": str(tasks)},
                          capture_output=True, text=True, cwd=ROOT)
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")]
    assert line, done.stderr[-3000:]
    _, wall, count = line[0].split()
    return float(wall), int(count), 0.0


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    sys.path[:0] = [str(ROOT)]
    from tests.fixtureserver import FixtureServer

    home = Path(tempfile.mkdtemp(prefix="newswatch-polltask-"))
    with FixtureServer() as server:
        write_feeds(home / "feeds.toml", server)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSWATCH_"))}
        env.update(NEWSWATCH_DATA_DIR=str(home / "data"), NEWSWATCH_FEEDS=str(home / "feeds.toml"),
                   NEWSWATCH_ALLOWED_PRIVATE_HOSTS="127.0.0.1", NEWSWATCH_HOST_DELAY="0",
                   NEWSWATCH_BASELINE=str(ROOT / "seeds/baseline"), NEWSWATCH_TOPICS=str(ROOT / "seeds/topics.toml"),
                   AIRFLOW_HOME=str(home / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
                   AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"), AIRFLOW__CORE__UNIT_TEST_MODE="False",
                   PYTHONPATH=f"{ROOT}:{ROOT / 'dags'}")
        newswatch = [str(ROOT / ".venv/bin/newswatch")]
        subprocess.run(newswatch + ["init"], env=env, check=True, capture_output=True)
        subprocess.run(newswatch + ["run", "--only", "cbc-world", "--no-alerts"], env=env, check=True,
                       capture_output=True)
        phases = fresh_process_phases(env, home / "data")

        table = Table(title=f"One poll task in a fresh process (median of {SAMPLES}; feed list of {FEEDS} feeds)",
                      title_justify="left")
        table.add_column("phase")
        table.add_column("seconds", justify="right")
        for name, seconds in phases.items():
            table.add_row(name, f"{seconds:.2f}")
        Console(width=140).print(table)

        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
        (home / "feeds-small.toml").write_text("")
        from tests.world import write_feed_list

        write_feed_list(home / "feeds-world.toml", server)
        env["NEWSWATCH_FEEDS"] = str(home / "feeds-world.toml")
        subprocess.run(newswatch + ["run", "--no-alerts"], env=env, check=True, capture_output=True)
        table = Table(title="Airflow's cost per task: forced dag.test() runs over the 10 world feeds, all 304",
                      title_justify="left")
        for column in ("feeds per task", "task instances", "wall s", "wall s per task instance"):
            table.add_column(column, justify="right")
        for tasks, per_task in ((256, 1), (2, 5), (1, 10)):
            wall, count, _ = airflow_per_task(env, 10, tasks)
            table.add_row(str(per_task), str(count), f"{wall:.1f}", f"{wall / count:.2f}")
        Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
