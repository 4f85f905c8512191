"""The app as a whole: headers, a mount prefix, and a database it cannot write to."""

from __future__ import annotations

import lxml.html
import pytest
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from pipeline.web import create_app
from tests.pipeline.web.conftest import TOKEN

PAGES = ("/", "/stories", "/coverage", "/feeds", "/alerts")


def test_every_answer_carries_the_security_headers(client, anonymous, world):
    for response in (client.get("/feeds"), client.get("/api/feeds"), anonymous.get("/login"),
                     anonymous.get("/api/feeds"), client.get("/articles/999999")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_pages_have_no_script_and_no_inline_style(client, world):
    for path in PAGES:
        doc = lxml.html.fromstring(client.get(path).text)
        assert not doc.xpath("//script | //style | //*[@style]"), path
    stylesheet = client.get("/static/style.css")
    assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")


def test_the_app_works_under_a_mount_prefix(settings, world, tmp_path):
    host = FastAPI()  # a host with route names of its own, as Airflow's API server has ("static")
    (tmp_path / "host-static").mkdir()
    host.mount("/static", StaticFiles(directory=tmp_path / "host-static"), name="static")
    host.add_api_route("/search", lambda: {}, name="search")
    app = create_app(settings)
    host.mount("/newswatch", app)
    with TestClient(host, follow_redirects=False) as browser:
        login = browser.get("/newswatch/coverage")
        assert login.status_code == 303
        assert login.headers["location"] == "/newswatch/login?next=%2Fnewswatch%2Fcoverage"
        form = lxml.html.fromstring(browser.get(login.headers["location"]).text)
        assert form.xpath("//form[@id='login-form']/@action") == ["/newswatch/login"]
        signed_in = browser.post("/newswatch/login", data={"token": TOKEN, "next": "/newswatch/coverage"})
        assert signed_in.headers["location"] == "/newswatch/coverage"
        assert "Path=/newswatch/" in signed_in.headers["set-cookie"]
        for path in PAGES + (f"/stories/{world.hostile['story']}", f"/articles/{world.hostile['article']}"):
            response = browser.get("/newswatch" + path)
            assert response.status_code == 200, path
            doc = lxml.html.fromstring(response.text)
            links = doc.xpath("//a/@href | //form/@action | //link/@href")
            internal = [link for link in links if not link.startswith(("http://", "https://", "#"))]
            assert internal and all(link.startswith("/newswatch/") for link in internal), (path, internal)
        assert browser.get("/newswatch/static/style.css").status_code == 200
        assert browser.get("/newswatch/api/stories").status_code == 200
    app.state.engine.dispose()


def test_the_apps_engine_cannot_write(app, world):
    engine = app.state.engine
    with engine.connect() as connection:
        assert connection.execute(text("select count(*) from articles")).scalar() > 50
    for statement in ("update feeds set outlet = 'changed'", "delete from alerts",
                      "create table intruder (id integer)"):
        with pytest.raises(DBAPIError, match="read-?only"):
            with engine.begin() as connection:
                connection.execute(text(statement))
    with world.engine.connect() as connection:
        assert connection.execute(text("select count(*) from feeds where outlet = 'changed'")).scalar() == 0
