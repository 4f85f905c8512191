"""The README's first command, for real: `./dev up` starts Airflow standalone with newswatch's
DAGs unpaused, the scheduled poll stores the fixture world's articles, the alerts DAG —
started by the poll's asset event — delivers the summit alerts to a webhook receiver, and
Ctrl-C leaves no process behind. Runs in a temporary data directory on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.browser import screenshot_folder, start_chromium
from tests.conftest import ROOT
from tests.receiver import WebhookReceiver, alert_document
from tests.world import ARTICLES, write_feed_list

STARTUP_LIMIT = 300  # seconds for migrations, parsing, the first scheduled run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get_json(url: str, token: str | None = None, data: dict | None = None) -> dict:
    request = urllib.request.Request(url, data=json.dumps(data).encode() if data else None,
                                     headers={"Content-Type": "application/json",
                                              **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def as_in_a_terminal() -> None:
    """Ctrl-C reaches ``./dev`` as it does from a terminal: a shell that starts a job in the
    background without job control makes it ignore SIGINT, the child inherits that, and a
    signal ignored on entry cannot be trapped by bash (the test would then wait for a stop
    that never comes, however the suite itself was started)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def wait_for(check, deadline: float, what: str, process: subprocess.Popen):
    last_error = None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"./dev up exited with {process.returncode} while waiting for {what}"
        try:
            result = check()
            if result:
                return result
        except (OSError, ValueError, sqlite3.Error) as error:
            last_error = error
        time.sleep(2)
    pytest.fail(f"timed out waiting for {what} (last error: {last_error})")


def processes_using(home: Path) -> list[int]:
    """Processes whose environment names this AIRFLOW_HOME (what `./dev up` started)."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_dev_up_runs_the_pipeline_and_ctrl_c_stops_everything(tmp_path, server):
    with WebhookReceiver() as recipients:
        run_dev_up(tmp_path, server, recipients)


def fetch(url: str, *, token: str | None = None, cookie: str | None = None) -> tuple[int, str, str]:
    """Status, Location and body of a GET that does not follow redirects."""
    class Stay(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    headers = {**({"Authorization": f"Bearer {token}"} if token else {}),
               **({"Cookie": f"_token={cookie}"} if cookie else {})}
    try:
        with urllib.request.build_opener(Stay).open(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.headers.get("Location", ""), r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), error.read().decode()


def check_the_analyst_app_in_airflow(base: str, token: str) -> None:
    """The plugin's app at /newswatch answers through Airflow's API server, to Airflow's
    token (bearer or the UI's cookie) only, and lists itself in Airflow's navigation."""
    assert fetch(f"{base}/newswatch/api/search?q=Alaska")[0] == 401
    assert fetch(f"{base}/newswatch/api/search?q=Alaska", token="not-a-jwt")[0] == 401
    status, location, _ = fetch(f"{base}/newswatch/?q=Alaska")
    assert status in (302, 303, 307) and "login" in location
    status, _, body = fetch(f"{base}/newswatch/api/search?q=Alaska", token=token)
    assert status == 200 and json.loads(body)["total"] >= 5
    status, _, page = fetch(f"{base}/newswatch/?q=Alaska", cookie=token)
    assert status == 200 and "Alaska" in page and 'href="/newswatch/articles/' in page
    plugins = get_json(f"{base}/api/v2/plugins", token)["plugins"]
    [mine] = [p for p in plugins if p["name"] == "newswatch"]
    assert mine["fastapi_apps"][0]["url_prefix"] == "/newswatch"
    assert mine["external_views"][0]["destination"] == "nav"


def look_at_the_app_in_airflows_ui(base: str, password: str, shots: Path) -> None:
    """In a real browser: log in to Airflow, pick "newswatch" in its navigation, search."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser = start_chromium()
    try:
        browser.get(f"{base}/")
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(password + Keys.ENTER)
        browser.find_element(By.CSS_SELECTOR, "a[href$='plugin/newswatch']").click()  # the navigation entry
        frame = browser.find_element(By.CSS_SELECTOR, "iframe[src$='newswatch/']")
        browser.switch_to.frame(frame)
        query = browser.find_element(By.ID, "q")
        query.send_keys("Alaska summit" + Keys.ENTER)
        assert browser.find_elements(By.CSS_SELECTOR, "#results .result")
        browser.switch_to.default_content()
        browser.save_screenshot(str(shots / "airflow-plugin.png"))
    finally:
        browser.quit()


def run_dev_up(tmp_path, server, recipients: WebhookReceiver) -> None:
    data = tmp_path / "data"
    home = data / "airflow"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSWATCH_"))}
    env.update(NEWSWATCH_DATA_DIR=str(data), NEWSWATCH_AIRFLOW_PORT=str(port),
               AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
               AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
               NEWSWATCH_FEEDS=str(write_feed_list(tmp_path / "feeds.toml", server)),
               NEWSWATCH_ALLOWED_PRIVATE_HOSTS="127.0.0.1", NEWSWATCH_HOST_DELAY="0",
               NEWSWATCH_ALERT_URLS=recipients.url)
    log = open(tmp_path / "dev-up.log", "w")
    process = subprocess.Popen([str(ROOT / "dev"), "up"], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=as_in_a_terminal)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_LIMIT
    try:
        health = wait_for(lambda: (h := get_json(f"{base}/api/v2/monitor/health")) and all(
            h[part]["status"] == "healthy" for part in ("metadatabase", "scheduler", "triggerer",
                                                       "dag_processor")) and h,
                          deadline, "a healthy Airflow", process)
        assert health["metadatabase"]["status"] == "healthy"
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        token = get_json(f"{base}/auth/token", data={"username": "admin", "password": password})["access_token"]
        dag = wait_for(lambda: get_json(f"{base}/api/v2/dags/newswatch_poll", token), deadline,
                       "newswatch_poll to be listed", process)
        assert dag["is_paused"] is False and "newswatch" in {t["name"] for t in dag["tags"]}

        def articles() -> int:
            with sqlite3.connect(data / "newswatch.db") as connection:
                return connection.execute("select count(*) from articles where not is_baseline").fetchone()[0]

        stored = wait_for(lambda: articles() >= len(ARTICLES) and articles(), deadline,
                          "the first scheduled poll to store the fixture articles", process)
        assert stored == len(ARTICLES)
        check_the_analyst_app_in_airflow(base, token)
        look_at_the_app_in_airflows_ui(base, password, screenshot_folder(tmp_path / "screenshots"))
        wait_for(lambda: recipients.posts, deadline, "newswatch_alerts to deliver summit alerts", process)
        time.sleep(5)  # the rest of that run's alerts
        with sqlite3.connect(data / "newswatch.db") as connection:
            polled = dict(connection.execute("select id, first_seen_at from articles").fetchall())
        runs = get_json(f"{base}/api/v2/dags/newswatch_poll/dagRuns?order_by=start_date", token)["dag_runs"]
        ended = min(datetime.fromisoformat(r["end_date"]).timestamp() for r in runs if r["end_date"])
        by_url = {server.url(a["canonical"]): a for a in ARTICLES}
        alerted = []
        for post in recipients.posts:
            document = alert_document(post)
            alerted.append(by_url[document["article"]["url"]])
            seen = datetime.fromisoformat(polled[document["article"]["id"]]).replace(tzinfo=timezone.utc)
            print(f"alert for story {document['story']['id']}: arrived "
                  f"{post['received_at'] - seen.timestamp():.1f} s after its feed's poll stored the article, "
                  f"{post['received_at'] - ended:.1f} s after the newswatch_poll run ended")
        banner = (tmp_path / "dev-up.log").read_text()
        assert "log in as admin, password:" in banner
        # Where alerts go, by scheme only (an Apprise URL can hold a token).
        assert "operator alerts (failed feeds, tasks and runs): NEWSWATCH_OPERATOR_ALERT_URLS is empty" in banner
        scheme = recipients.url.split("://")[0]
        assert f"recipient alerts: 1 rule(s) without URLs: NEWSWATCH_ALERT_URLS, 1 URL ({scheme}://)" in banner
        assert recipients.url not in banner
    finally:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            process.wait(timeout=60)
        finally:
            leftovers = processes_using(home)
            for pid in leftovers:
                os.kill(pid, signal.SIGKILL)
            log.close()
    # Only summit coverage, each story once. (Which stories: the polls run in parallel, so
    # the order articles are stored in varies, and with it how stories cluster; see bench/alerts.py.)
    assert alerted and all(a["summit"] for a in alerted)
    assert len({a["story"] for a in alerted}) == len(alerted)
    assert process.returncode == 130
    assert leftovers == [], f"processes left behind: {leftovers}"
