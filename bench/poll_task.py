"""What one poll task pays before and besides its poll, and what Airflow adds per task.

Part 1, a fresh process per sample (as Airflow's task runner starts one per task): the
time to import newswatch's pipeline, read the settings, read the feed list (1,100 feeds:
the fixture world plus synthetic ones), build the labeller (topic terms lemmatised, the
baseline's vector), and poll one unchanged feed (304) through ``poll_batch`` — the whole
task body. Each phase's seconds are the median of ``SAMPLES`` processes, the first with an
empty cache directory (a new data directory), the rest with the cache the first left.

Part 2, Airflow's own part per task: forced ``dag.test()`` runs of newswatch_poll over the
10 world feeds, all 304, one feed per task and all in one task; the difference per extra
task instance. dag.test() runs tasks in this process, one after another; a real scheduler
adds a process start per task (part 1). From both, the cost of a cycle of unchanged feeds
for several ``NEWSWATCH_POLL_TASKS``, which is how its default was chosen.

Part 3: newswatch_poll planned over 1,100 due feeds — more than Airflow's 1,024 — with
the poll tasks marked done by dag.test() (not run): every feed in a batch, no cliff.

    .venv/bin/python bench/poll_task.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def dag_test(env: dict[str, str], tasks: int, mark_success: str | None = None) -> tuple[float, int, int]:
    """A forced dag.test() of newswatch_poll: (wall s, poll_feed task instances, feeds per task at most)."""
    script = f'''
import sys, time
sys.path[:0] = [{str(ROOT)!r}, {str(ROOT / "dags")!r}]
from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
dag = DagBag(dag_folder={str(ROOT / "dags")!r}).get_dag("newswatch_poll")
started = time.perf_counter()
run = dag.test(run_conf={{"force": True}}, mark_success_pattern={mark_success!r})
wall = time.perf_counter() - started
with create_session() as session:
    polls = session.query(TaskInstance).filter(TaskInstance.run_id == run.run_id,
                                                TaskInstance.task_id == "poll_feed").all()
    labels = [t.rendered_map_index or "" for t in polls]
    widest = max((int(x.rpartition(" +")[2]) + 1 if " +" in x else 1 for x in labels), default=0)
print("RESULT", wall, len(polls), widest, run.state)
'''
    done = subprocess.run([sys.executable, "-c", script], env={**env, "NEWSWATCH_POLL_TASKS": str(tasks)},
                          capture_output=True, text=True, cwd=ROOT)
    line = [x for x in done.stdout.splitlines() if x.startswith("RESULT")]
    assert line, done.stderr[-3000:]
    _, wall, count, widest, _ = line[0].split()
    return float(wall), int(count), int(widest)


def cycle_table(per_task: float, per_feed: float):
    """Core-seconds per cycle of unchanged feeds: tasks × a task's fixed cost + feeds × a 304 poll."""
    from rich.table import Table

    table = Table(title=f"Cost of an unchanged cycle, from the figures above: {per_task:.1f} s per task "
                        f"(fresh process: imports, settings, labeller, Airflow's part), {per_feed * 1000:.0f} ms "
                        "per 304 poll; minutes of both cores", title_justify="left")
    table.add_column("due feeds", justify="right")
    for limit in (64, 256, 1024):
        table.add_column(f"NEWSWATCH_POLL_TASKS={limit}", justify="right")
    for feeds in (10, 64, 256, 1000, 5000):
        cells = []
        for limit in (64, 256, 1024):
            tasks = min(feeds, limit)
            cells.append(f"{tasks} tasks, {(tasks * per_task + feeds * per_feed) / 2 / 60:.1f} min")
        table.add_row(str(feeds), *cells)
    return table


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
        from tests.world import write_feed_list

        write_feed_list(home / "feeds-world.toml", server)
        env["NEWSWATCH_FEEDS"] = str(home / "feeds-world.toml")
        subprocess.run(newswatch + ["run", "--no-alerts"], env=env, check=True, capture_output=True)
        table = Table(title="Airflow's part per task: forced dag.test() runs over the 10 world feeds, all 304 "
                            "(tasks run in this process: no process start)", title_justify="left")
        for column in ("feeds per task", "poll_feed tasks", "wall s"):
            table.add_column(column, justify="right")
        walls = {}
        for tasks in (256, 1):
            wall, count, widest = dag_test(env, tasks)
            walls[count] = wall
            table.add_row(str(widest), str(count), f"{wall:.1f}")
        Console(width=140).print(table)
        airflow_part = max(0.0, (walls[10] - walls[1]) / 9)
        print(f"Airflow's part per task instance: ({walls[10]:.1f} - {walls[1]:.1f}) s / 9 = {airflow_part:.2f} s")
        per_task = phases["imports"] + phases["settings and feed list"] + phases["labeller"] + airflow_part
        Console(width=140).print(cycle_table(per_task, 0.0086))

        many = home / "feeds-many.toml"
        many.write_text("".join(f'[[feed]]\nname = "synthetic-{n:05d}"\n'
                                f'url = "http://127.0.0.{2 + n % 200}:9/{n}.xml"\n'
                                f'outlet = "Synthetic {n % 200}"\n\n' for n in range(FEEDS)), encoding="utf-8")
        env["NEWSWATCH_FEEDS"] = str(many)
        table = Table(title=f"newswatch_poll planned over {FEEDS} due feeds (dag.test(); the poll tasks marked "
                            "done, not run)", title_justify="left")
        for column in ("NEWSWATCH_POLL_TASKS", "poll_feed tasks", "feeds per task at most", "wall s"):
            table.add_column(column, justify="right")
        for tasks in (64, 256, 1024):
            wall, count, _ = dag_test(env, tasks, mark_success="poll_feed|summarize")
            table.add_row(str(tasks), str(count), str(-(-FEEDS // count)), f"{wall:.1f}")
        Console(width=140).print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
