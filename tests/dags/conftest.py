"""Airflow for the DAG tests: a private AIRFLOW_HOME with a migrated SQLite metadata DB.

Airflow reads its configuration when first imported, so the environment is set here,
when pytest collects this folder and before any test module imports Airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="newswatch-airflow-"))
os.environ.update({
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
})
# Airflow puts the DAG folder on sys.path in its own processes (the DAG files import
# their shared glue, newswatch_airflow); an in-process DagBag needs it too.
sys.path.insert(0, str(ROOT / "dags"))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database, migrated once per test session."""
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True,
                          text=True, env=os.environ.copy())
    assert done.returncode == 0, done.stderr[-2000:]
    return AIRFLOW_HOME
