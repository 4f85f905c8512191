"""The Airflow glue: the article database's URL from the newswatch_db connection's fields."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import make_url

from newswatch_airflow import database_url_from_connection
from pipeline.errors import SettingsError


@pytest.mark.parametrize("conn_type, fields, expected", [
    ("postgres", dict(host="db.internal", port=5432, login="news", password="p@ss:w/rd", schema="articles"),
     "postgresql+psycopg://news:p%40ss%3Aw%2Frd@db.internal:5432/articles"),
    ("postgres", dict(host="db", schema="articles", extra={"sslmode": "require"}),
     "postgresql+psycopg://db/articles?sslmode=require"),
    ("postgresql", dict(host="db", login="u", schema="a"), "postgresql+psycopg://u@db/a"),
    ("sqlite", dict(host="/srv/newswatch/articles.db"), "sqlite:////srv/newswatch/articles.db"),
])
def test_url_from_connection_fields(conn_type, fields, expected):
    url = database_url_from_connection(conn_type, **fields)
    assert url == expected
    if conn_type.startswith("postgres") and "password" in fields:
        assert make_url(url).password == fields["password"]  # survives the round trip


def test_other_connection_types_are_refused_with_the_reason():
    with pytest.raises(SettingsError, match="'newswatch_db' is of type 'mysql'"):
        database_url_from_connection("mysql", host="db")
