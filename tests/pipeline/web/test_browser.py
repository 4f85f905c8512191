"""The analyst app in a real headless Chromium (Debian's chromium + chromium-driver, through
Selenium): log in, search, open an article, open its story, read coverage — with a
screenshot of each page — and the hostile article runs nothing.

The app is served by uvicorn on 127.0.0.1 over the SQLite fixture world. Screenshots go
to $NEWSWATCH_SCREENSHOTS (the README's come from `NEWSWATCH_SCREENSHOTS=docs/screenshots`),
else to the session's temporary directory; the test prints where.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from pipeline.web import create_app
from tests.browser import screenshot_folder, start_chromium
from tests.conftest import make_settings
from tests.pipeline.web.conftest import TOKEN
from tests.pipeline.web.hostile import TITLE

@pytest.fixture(scope="module")
def browser():
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def served(sqlite_world, tmp_path_factory):
    """The app over the SQLite world on a free port: its base URL."""
    settings = make_settings(tmp_path_factory.mktemp("serve"), sqlite_world.database_url, web_token=TOKEN)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshot_folder(tmp_path_factory.mktemp("screenshots"))


def save(browser, shots: Path, name: str) -> None:
    browser.save_screenshot(str(shots / f"{name}.png"))
    assert (shots / f"{name}.png").stat().st_size > 5_000


def log_in(browser, served: str) -> None:
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(f"{served}/")
    assert "/login" in browser.current_url  # anonymous: sent to the login page
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#login-form button, #login-form [type=submit]").click()
    browser.find_element(By.ID, "search-form")  # logged in: back at the search page


def test_search_open_an_article_and_its_story(browser, served, shots):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    log_in(browser, served)
    query = browser.find_element(By.ID, "q")
    query.clear()
    query.send_keys("Alaska summit")
    Select(browser.find_element(By.ID, "lang")).select_by_value("en")
    browser.find_element(By.ID, "search-form").submit()
    count = browser.find_element(By.ID, "result-count").text
    results = browser.find_elements(By.CSS_SELECTOR, "#results .result")
    assert results and count.split()[0].isdigit() and int(count.split()[0]) >= len(results)
    assert all(r.find_element(By.CSS_SELECTOR, ".meta").text for r in results)
    marks = browser.find_elements(By.CSS_SELECTOR, "#results .snippet mark")
    assert marks and {m.text.casefold() for m in marks} <= {"alaska", "summit", "summits"}
    assert marks[0].value_of_css_property("background-color") == "rgba(255, 243, 163, 1)"  # the stylesheet's
    save(browser, shots, "search")

    title = results[0].find_element(By.CSS_SELECTOR, ".result-title a")
    expected = title.text
    title.click()
    assert browser.find_element(By.ID, "article-title").text == expected
    assert len(browser.find_element(By.ID, "article").text) > 500
    save(browser, shots, "article")

    browser.find_element(By.ID, "story-link").click()
    timeline = browser.find_elements(By.CSS_SELECTOR, "[data-article-id]")
    assert len(timeline) >= 3 and expected in browser.page_source
    save(browser, shots, "story")

    browser.get(f"{served}/stories")
    sizes = [int(c.text) for c in browser.find_elements(By.CSS_SELECTOR, "#stories tbody tr td:nth-child(2)")]
    assert sizes and min(sizes) >= 2
    browser.find_element(By.CSS_SELECTOR, "#smaller-stories a").click()
    every = [int(c.text) for c in browser.find_elements(By.CSS_SELECTOR, "#stories tbody tr td:nth-child(2)")]
    assert len(every) > len(sizes) and min(every) == 1

    browser.get(f"{served}/coverage")
    assert browser.find_elements(By.CSS_SELECTOR, "svg")
    save(browser, shots, "coverage")
    for page in ("feeds", "alerts"):
        browser.get(f"{served}/{page}")
        assert browser.find_element(By.TAG_NAME, "h1").text
        save(browser, shots, page)


def test_a_versioned_article_shows_what_changed(browser, served, shots, sqlite_world):
    from selenium.webdriver.common.by import By

    log_in(browser, served)
    browser.get(f"{served}/articles/{sqlite_world.article_id('v')}")
    assert browser.find_elements(By.CSS_SELECTOR, "ins") and browser.find_elements(By.CSS_SELECTOR, "del")
    browser.find_element(By.CSS_SELECTOR, "ins").location_once_scrolled_into_view  # noqa: B018 (reading it scrolls)
    save(browser, shots, "article-versions")


def test_the_hostile_article_runs_nothing(browser, served, shots, sqlite_world):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    log_in(browser, served)
    pages = [f"/articles/{sqlite_world.hostile['article']}", f"/articles/{sqlite_world.hostile['copy']}",
             f"/stories/{sqlite_world.hostile['story']}", "/search?q=zanzibarquokka", "/feeds", "/alerts"]
    for page in pages:
        browser.get(served + page)
        time.sleep(0.3)  # time for an injected handler to fire, were there one
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 - no dialog was opened
        injected = browser.execute_script(
            "return document.querySelectorAll('script, [onerror], [onload], a[href^=\"javascript:\"]').length")
        assert injected == 0, f"{page}: {injected} live elements from hostile data"
    browser.get(f"{served}/articles/{sqlite_world.hostile['article']}")
    assert browser.find_element(By.ID, "article-title").text == TITLE  # shown as text, markup and all
    save(browser, shots, "hostile-article")
