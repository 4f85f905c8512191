"""Lint and type gates: ``ruff check`` over the repository and ``mypy`` over ``pipeline/``
(both configured in pyproject.toml), run as the commands a developer would type.

Each gate also proves it can fail: the same configuration, given a real fault, must
report it — so a configuration that checks nothing cannot pass for a clean one.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def run_tool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=600)


def test_ruff_finds_nothing_to_fix():
    result = run_tool("ruff", "check", "--no-fix", ".")
    assert result.returncode == 0, f"ruff check found problems:\n{result.stdout}{result.stderr}"


def test_ruff_reports_a_real_fault_under_the_project_settings():
    result = run_tool("ruff", "check", "--no-fix", "--stdin-filename", "pipeline/example.py", "-",
                      stdin="import os\n\n\ndef late(items=[]):\n    return items\n")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "F401" in result.stdout and "B006" in result.stdout, result.stdout


def test_mypy_finds_no_type_errors_in_pipeline():
    result = run_tool("mypy")
    assert result.returncode == 0, f"mypy found problems:\n{result.stdout}{result.stderr}"
    assert "no issues found" in result.stdout and " source files" in result.stdout, result.stdout


def test_mypy_reports_a_real_fault_under_the_project_settings(tmp_path):
    faulty = tmp_path / "count.py"
    faulty.write_text("def count(text: str) -> int:\n    return text\n", encoding="utf-8")
    result = run_tool("mypy", str(faulty))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Incompatible return value type" in result.stdout, result.stdout
