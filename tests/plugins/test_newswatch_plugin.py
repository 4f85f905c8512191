"""The Airflow plugin loads in Airflow and offers the analyst app at /newswatch with a
navigation entry. (That it answers through the API server, to Airflow's token only, is
checked against a real `./dev up` in tests/test_dev_up.py.)"""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import ROOT


def airflow(tmp_path, *args: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSWATCH_"))}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow"), AIRFLOW__CORE__LOAD_EXAMPLES="False",
               AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
               AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"), NEWSWATCH_DATA_DIR=str(tmp_path / "data"),
               **extra_env)
    return subprocess.run([str(ROOT / ".venv/bin/airflow"), *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_airflow_lists_the_plugin_with_its_app_and_menu_entry(tmp_path):
    done = airflow(tmp_path, "plugins", "--output", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    [plugin] = [p for p in json.loads(done.stdout) if p["name"] == "newswatch"]
    [app] = plugin["fastapi_apps"]
    assert app["url_prefix"] == "/newswatch" and app["app"] == "newswatch.AnalystApp"
    [view] = plugin["external_views"]
    assert view["destination"] == "nav" and view["href"] == "newswatch/" and view["url_route"] == "newswatch"
