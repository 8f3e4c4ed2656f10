"""The Medium crawler in a real headless Chromium against the JS-rendered fixture story."""

import pytest
import requests

from llm_twin.application.crawlers import build_dispatcher
from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.medium import MediumCrawler

STORY = "medium/jane-doe/why-your-agent-needs-a-budget.html"
PAGE_CHROME = [
    "Sign in",
    "Get started",
    "Loading story",
    "More from Jane Doe",
    "Recommended from Medium",
    "Careers",
    "Follow",
    "Listen",
    "Share",
    "1.2K",
    "5 min read",
]


def test_plain_http_sees_no_story(site) -> None:
    # The proof that only a browser can read this page: the body comes from JavaScript.
    html = requests.get(site.url(STORY), timeout=5).text
    assert "loop with a credit card" not in html


@pytest.mark.usefixtures("chromium")
def test_story_is_read_in_chromium(site, settings, author) -> None:
    with build_dispatcher(settings) as dispatcher:
        dispatcher.override(site.url("medium/"), "medium")
        route = dispatcher.route(site.url(STORY))
        assert isinstance(route.crawler, MediumCrawler)
        (document,) = route.crawler.crawl(site.url(STORY), author)
        browser = dispatcher.browsers.get()
        assert dispatcher.browsers.started == 1
        assert browser.version.split(".")[0].isdigit()  # a real Chromium answered
    content = document.content
    assert document.platform == "medium"
    assert content["Title"] == "Why your agent needs a budget"
    assert content["Subtitle"] == "Token, time and tool-call limits turn a demo into a product"
    assert content["Author"] == "Jane Doe"
    assert content["Published"] == "2024-02-02"
    body = content["Content"]
    assert body.startswith("Every agent demo I have seen ends the same way")
    assert "An agent without limits is a loop with a credit card." in body
    assert "# Three budgets" in body
    assert "    history.append(run_tool(action))" in body
    assert "It is a promise to the people who pay for it." in body
    for phrase in PAGE_CHROME:
        assert phrase not in body, f"{phrase!r} leaked from outside the story"
    assert "Why your agent needs a budget" not in body  # title kept apart


@pytest.mark.usefixtures("chromium")
def test_page_without_article_times_out(site, settings_with, author) -> None:
    settings = settings_with(CRAWL_TIMEOUT_S=2.0)
    with build_dispatcher(settings) as dispatcher:
        crawler = MediumCrawler(settings, dispatcher.fallback.fetcher, dispatcher.browsers)
        with pytest.raises(CrawlError) as error:
            crawler.crawl(site.url("login"), author)
    assert error.value.reason == "timeout"
