"""A visitor in a real browser, against the app served by gunicorn: register, log in, post, page, log out."""

from __future__ import annotations

import subprocess
import sys

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from testkit.servers import gunicorn
from testkit.tree import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def site(tmp_path):
    """The board on gunicorn, with 25 older demo posts and 10 posts a page."""
    database = f"sqlite:///{tmp_path / 'board.sqlite'}"
    env = {"PATH": "/usr/bin:/bin", "APP_ENV": "development", "DATABASE_URL": database, "FLASK_APP": "board"}
    for command in (["db", "upgrade"], ["seed", "--authors", "2", "--posts", "25"]):
        subprocess.run([sys.executable, "-m", "flask", *command], cwd=ROOT, env=env, check=True, capture_output=True)
    (tmp_path / "gunicorn.conf.py").symlink_to(ROOT / "gunicorn.conf.py")
    (tmp_path / "board").symlink_to(ROOT / "board")
    (tmp_path / "migrations").symlink_to(ROOT / "migrations")
    with gunicorn(tmp_path, DATABASE_URL=database, POSTS_PER_PAGE="10") as (base, _):
        yield base


def navigate(browser, by: str, value: str) -> None:
    """Click a link or button and wait until the next page has replaced this one."""
    page = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(by, value).click()
    # Asked mid-navigation, Chromium may answer that the old node "does not belong to the document" rather
    # than that it is stale: that is an answer to ask again, not a failure.
    WebDriverWait(browser, 15, ignored_exceptions=(WebDriverException,)).until(expected_conditions.staleness_of(page))


def submit(browser) -> None:
    navigate(browser, By.CSS_SELECTOR, "form.stacked button[type=submit]")


def fill(browser, **fields: str) -> None:
    for name, value in fields.items():
        element = browser.find_element(By.NAME, name)
        element.clear()
        element.send_keys(value)


def titles(browser) -> list[str]:
    return [link.text for link in browser.find_elements(By.CSS_SELECTOR, "ol.posts a.title")]


def post_links(browser) -> list[str]:
    return [link.get_attribute("href") for link in browser.find_elements(By.CSS_SELECTOR, "ol.posts a.title")]


def test_register_log_in_post_page_and_log_out(browser, site):
    browser.get(site + "/")
    navigate(browser, By.LINK_TEXT, "Register")
    fill(browser, name="Grace", email="grace@example.com", password="correct horse battery",
         confirm="correct horse battery")
    submit(browser)
    assert "Welcome, Grace!" in browser.find_element(By.TAG_NAME, "main").text

    navigate(browser, By.CSS_SELECTOR, "header button.link")  # log out
    assert "You are logged out." in browser.find_element(By.TAG_NAME, "main").text
    navigate(browser, By.LINK_TEXT, "Log in")
    fill(browser, email="grace@example.com", password="correct horse battery")
    submit(browser)
    assert browser.find_element(By.LINK_TEXT, "Grace")

    navigate(browser, By.LINK_TEXT, "New post")
    fill(browser, title="Hello from Chromium", content="Typed in a real browser.\nTwo lines.")
    submit(browser)
    assert browser.current_url.endswith("/posts/hello-from-chromium")
    assert "Typed in a real browser." in browser.find_element(By.CSS_SELECTOR, ".post .content").text

    navigate(browser, By.LINK_TEXT, "board")
    assert titles(browser)[0] == "Hello from Chromium"
    pages = [post_links(browser)]
    while browser.find_elements(By.PARTIAL_LINK_TEXT, "Older"):
        navigate(browser, By.PARTIAL_LINK_TEXT, "Older")
        assert browser.find_element(By.PARTIAL_LINK_TEXT, "Newer")
        pages.append(post_links(browser))
    assert [len(page) for page in pages] == [10, 10, 6]  # 25 seeded + 1 new, each exactly once
    assert len({link for page in pages for link in page}) == 26

    navigate(browser, By.CSS_SELECTOR, "header button.link")
    assert browser.find_element(By.LINK_TEXT, "Log in")
    assert browser.find_elements(By.LINK_TEXT, "New post") == []
