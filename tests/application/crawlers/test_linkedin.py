"""The LinkedIn crawler: real Chromium, a LinkedIn-like login and an infinite-scroll feed."""

import pytest

from llm_twin.application.crawlers import build_dispatcher
from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.browser import BrowserPool
from llm_twin.application.crawlers.linkedin import LinkedInCrawler, activity_date
from llm_twin.domain.documents import PostDocument

PROFILE = "in/jane-doe/"


def test_activity_date_decodes_the_id() -> None:
    assert activity_date("urn:li:activity:7183795853721723457") == "2024-04-10T12:00:00Z"
    assert activity_date("urn:li:activity:12") is None
    assert activity_date("urn:li:comment:1") is None


def test_missing_credentials_fail_the_link_without_a_browser(site, settings_with, author) -> None:
    settings = settings_with(LINKEDIN_USERNAME=None, LINKEDIN_PASSWORD=None)
    browsers = BrowserPool(settings)
    with pytest.raises(CrawlError) as error:
        LinkedInCrawler(settings, browsers).crawl(site.url(PROFILE), author)
    assert error.value.reason == "missing_credentials"
    assert "LINKEDIN_USERNAME" in str(error.value)
    assert browsers.started == 0


def test_not_a_profile_link(site, settings, author) -> None:
    with pytest.raises(CrawlError) as error:
        LinkedInCrawler(settings, BrowserPool(settings)).crawl(site.url("feed/"), author)
    assert error.value.reason == "invalid_link"


@pytest.mark.usefixtures("chromium")
def test_wrong_password_fails_without_leaking_it(site, settings_with, author) -> None:
    settings = settings_with(LINKEDIN_PASSWORD="hunter2-wrong", CRAWL_TIMEOUT_S=3.0)
    browsers = BrowserPool(settings)
    try:
        with pytest.raises(CrawlError) as error:
            LinkedInCrawler(settings, browsers).crawl(site.url(PROFILE), author)
    finally:
        browsers.close()
    assert error.value.reason == "login_failed"
    assert "hunter2" not in str(error.value)


@pytest.mark.usefixtures("chromium")
def test_posts_are_collected_across_scrolls(site, settings, author) -> None:
    with build_dispatcher(settings) as dispatcher:
        dispatcher.override(site.url("in/"), "linkedin")
        route = dispatcher.route(site.url(PROFILE))
        assert isinstance(route.crawler, LinkedInCrawler)
        posts = route.crawler.crawl(site.url(PROFILE), author)
        # A second profile link in the same worker reuses the logged-in browser.
        again = route.crawler.crawl(site.url(PROFILE), author)
        assert dispatcher.browsers.started == 1
    assert [p.link for p in again] == [p.link for p in posts]
    assert all(isinstance(post, PostDocument) for post in posts)
    # Two posts load with the page, two more only after scrolling.
    assert len(posts) == 4
    first = posts[0]
    assert first.link == site.url("feed/update/urn:li:activity:7183795853721723457/")
    assert first.content["Published"] == "2024-04-10T12:00:00Z"
    assert first.content["Content"].startswith(
        "Shipped: our RAG assistant now runs fully offline on a laptop."
    )
    assert "2. Hybrid search (dense + BM25)" in first.content["Content"]
    assert posts[3].content["Content"].startswith("Reminder that quantizing to 8 bits")
    for post in posts:
        text = post.content["Content"]
        assert post.platform == "linkedin"
        for chrome in ("see more", "Like", "Repost", "reactions", "Follow", "People you may"):
            assert chrome not in text
