"""How soon an alert follows its feed's poll when another feed of the same run hangs.

Runs ``./dev up`` for real (Airflow standalone: scheduler, API server, DAG processor,
triggerer) on the fixture world's feeds plus one feed whose server never answers
(``fault/hang``: each try of its task runs into the fetch timeout, 3 × 30 s, and Airflow
retries it after 1, 2 and 4 minutes). Recipients' alerts go to a real webhook receiver on
127.0.0.1 through an Apprise ``json://`` URL. For each alert the receiver gets, the table
gives the time from its article's poll commit (``articles.first_seen_at``) to the
receiver's arrival: from the alert's ``created_at`` (queued in the transaction that stored
the feed's poll) to the receiver's clock, and whether the hanging feed's task was still
running then.

    .venv/bin/python bench/alert_latency.py
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
LIMIT = 900  # seconds to wait for the summit alerts and the hanging feed's first retry


def main() -> int:
    from rich.console import Console
    from rich.table import Table

    from tests.fixtureserver import FixtureServer
    from tests.receiver import WebhookReceiver, alert_document
    from tests.test_dev_up import free_port, get_json, processes_using
    from tests.world import ARTICLES, write_feed_list

    tmp = Path(tempfile.mkdtemp(prefix="newswatch-latency-"))
    data, port = tmp / "data", free_port()
    with FixtureServer() as server, WebhookReceiver() as recipients:
        server.hang_seconds = 3600.0
        feeds = write_feed_list(tmp / "feeds.toml", server)
        # The hanging feed first: its task starts first and hangs while the others poll.
        feeds.write_text(f'[[feed]]\nname = "hanging"\nurl = "{server.url("fault/hang")}"\noutlet = "Hang"\n\n'
                         + feeds.read_text(encoding="utf-8"), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSWATCH_"))}
        env.update(NEWSWATCH_DATA_DIR=str(data), NEWSWATCH_AIRFLOW_PORT=str(port),
                   AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
                   AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
                   NEWSWATCH_FEEDS=str(feeds), NEWSWATCH_ALLOWED_PRIVATE_HOSTS="127.0.0.1",
                   NEWSWATCH_HOST_DELAY="0", NEWSWATCH_ALERT_URLS=recipients.url.replace("http://", "json://"))
        log = open(tmp / "dev-up.log", "w")
        process = subprocess.Popen([str(ROOT / "dev"), "up"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        base, hanging_states = f"http://127.0.0.1:{port}", {}
        try:
            deadline = time.monotonic() + LIMIT
            token = None
            while time.monotonic() < deadline and process.poll() is None:
                time.sleep(2)
                try:
                    if token is None:
                        password = json.loads((data / "airflow/simple_auth_manager_passwords.json.generated")
                                              .read_text())["admin"]
                        token = get_json(f"{base}/auth/token",
                                         data={"username": "admin", "password": password})["access_token"]
                    hanging_states[time.time()] = hanging_state(base, token, get_json)
                except (OSError, ValueError, KeyError):
                    continue
                summit = {a["story"] for a in ARTICLES if a["summit"]}
                alerted = {alert_document(p)["story"]["id"] for p in recipients.posts}
                retrying = any(state.startswith("up_for_retry") for state in hanging_states.values())
                if len(alerted) >= len(summit) // 2 + 1 and retrying:
                    break
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            finally:
                for pid in processes_using(data / "airflow"):
                    os.kill(pid, signal.SIGKILL)
                log.close()
        with sqlite3.connect(data / "newswatch.db") as connection:
            queued = dict(connection.execute(
                "select story_id, min(created_at) from alerts where sequence = 0 group by story_id").fetchall())
    table = Table(title="Alert latency with one hanging feed in the run (./dev up, real receiver)",
                  title_justify="left")
    for column in ("story", "alert queued (poll commit)", "alert received", "latency s",
                   "hanging feed's task then"):
        table.add_column(column, justify="right" if column == "latency s" else "left")
    for post in recipients.posts:
        document = alert_document(post)
        seen = datetime.fromisoformat(queued[document["story"]["id"]]).replace(tzinfo=timezone.utc)
        then = max((t for t in hanging_states if t <= post["received_at"]), default=None)
        table.add_row(str(document["story"]["id"]), f"{seen:%H:%M:%S}",
                      f"{datetime.fromtimestamp(post['received_at'], timezone.utc):%H:%M:%S}",
                      f"{post['received_at'] - seen.timestamp():.1f}",
                      hanging_states.get(then, "?") if then else "?")
    Console(width=140).print(table)
    print("the hanging feed's task instance, as the API showed it:")
    last = None
    for moment, state in sorted(hanging_states.items()):
        if state != last:  # each change once
            print(f"  {datetime.fromtimestamp(moment, timezone.utc):%H:%M:%S}  {state}")
        last = state
    print(f"(log: {tmp / 'dev-up.log'})")
    return 0 if recipients.posts else 1


def hanging_state(base: str, token: str, get_json) -> str:
    """The hanging feed's poll_feed instance in the latest newswatch_poll run: state and try."""
    runs = get_json(f"{base}/api/v2/dags/newswatch_poll/dagRuns?order_by=-start_date&limit=1", token)["dag_runs"]
    if not runs:
        return "no run yet"
    instances = get_json(f"{base}/api/v2/dags/newswatch_poll/dagRuns/{runs[0]['dag_run_id']}"
                         "/taskInstances?task_id=poll_feed&limit=100", token)["task_instances"]
    for instance in instances:
        if instance.get("rendered_map_index") == "hanging":
            return f"{instance['state']} (try {instance['try_number']})"
    return "not labelled yet: " + ", ".join(sorted({str(i["state"]) for i in instances}))


if __name__ == "__main__":
    sys.exit(main())
