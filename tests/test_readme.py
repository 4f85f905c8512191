"""The README's SQL for analysts runs as written on SQLite and PostgreSQL and finds rows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text

from tests.conftest import ROOT

ANALYSTS = ROOT.joinpath("README.md").read_text(encoding="utf-8").split("## For analysts", 1)[1]
BLOCKS = re.findall(r"```sql\n(.*?)```", ANALYSTS, flags=re.S)


def statements(database: str) -> list[str]:
    """Every statement meant for ``database``: blocks that open with "-- SQLite:" or
    "-- PostgreSQL:" are for that one only."""
    found = []
    for block in BLOCKS:
        only = re.match(r"-- (SQLite|PostgreSQL):", block)
        if only and only.group(1).lower() != database:
            continue
        found += [s.strip() for s in block.split(";") if s.strip()]
    return found


def test_the_readme_has_sql_for_each_database():
    assert len(statements("sqlite")) >= 6 and len(statements("postgresql")) >= 6


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_every_readme_query_runs_and_finds_rows(stored_worlds, database):
    engines, _ = stored_worlds
    with engines[database].connect() as connection:
        for statement in statements(database):
            rows = connection.execute(text(statement)).all()
            assert rows, f"no rows on {database}:\n{statement}"
